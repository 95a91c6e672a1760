"""One interface for the three shells (as direnv has one file per shell).

A dialect knows how to print its hook and how to say, in its own syntax, the few
things the worker needs said: export a value, save or restore a variable, set the
hook's state. Everything that varies between shells is here and in the dialect
modules; the worker itself speaks no shell.

The hook's state lives in shell variables (names fixed here):
  __AUTHSOME_FILE      project file governing the last look ('' for none)
  __AUTHSOME_VARS      names we manage, space separated (exported, so that a nested
                       shell knows which inherited variables are ours to remove)
  __AUTHSOME_NOTED     messages already shown since entering this tree
  __AUTHSOME_DEADLINE  epoch second at which the worker must look again ('' = never)
  __AUTHSOME_WATCH     (path, spec) pairs re-checked at every prompt (see watch.py)
and, per managed variable NAME, __AUTHSOME_SAVED_NAME / __AUTHSOME_SAVEDX_NAME hold
its previous value and whether it was exported (unset = it was unset).
"""

from __future__ import annotations

import importlib

SHELLS = ("bash", "zsh", "fish")


class Dialect:
    name = ""
    # Does the shell compare mtimes through stamp files (bash, zsh) or read whole
    # seconds with a builtin (fish)?
    stamps = True
    template = ""

    def quote(self, value: str) -> str:
        raise NotImplementedError

    def hook(self, worker: list[str]) -> str:
        """The code for the rc file; `worker` is the command that starts the worker."""
        return self.template.replace("@AUTHSOME@", " ".join(self.quote(w) for w in worker))

    def export(self, name: str, value: str) -> str:
        raise NotImplementedError

    def assign(self, name: str, value: str, exported: bool = False) -> str:
        raise NotImplementedError

    def assign_list(self, name: str, values: list[str]) -> str:
        raise NotImplementedError

    # The save/restore functions are defined by the hook; calling them reads the same
    # in all three shells. `name` is always a checked environment variable name.
    def save(self, name: str) -> str:
        return f"__authsome_save {name}"

    def restore(self, name: str) -> str:
        return f"__authsome_restore {name}"

    def state(
        self, file: str, names: list[str], noted: list[str], deadline: str, watch: list[str]
    ) -> list[str]:
        return [
            self.assign("__AUTHSOME_FILE", file),
            self.assign("__AUTHSOME_VARS", " ".join(names), exported=True),
            self.assign("__AUTHSOME_NOTED", " ".join(noted)),
            self.assign("__AUTHSOME_DEADLINE", deadline),
            self.assign_list("__AUTHSOME_WATCH", watch),
        ]


def get(shell: str) -> Dialect:
    """The dialect for `shell` (bash, zsh or fish); KeyError for any other."""
    if shell not in SHELLS:
        raise KeyError(shell)
    return importlib.import_module(f"authsome.shell.{shell}").DIALECT
