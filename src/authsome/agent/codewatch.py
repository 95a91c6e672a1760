"""The code the agent runs must be the code on disk: the files of every authsome module
it has imported, by mtime and size. A change (an upgrade, an edit in a checkout) makes
the agent refuse the request and exit; the next client starts a fresh one."""

from __future__ import annotations

import os
import sys


class CodeWatch:
    def __init__(self) -> None:
        import authsome

        self.root = os.path.dirname(os.path.abspath(authsome.__file__)) + os.sep
        self.files: dict[str, tuple[int, int]] = {}
        self.note_new()

    def note_new(self) -> None:
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if path and path.startswith(self.root) and path not in self.files:
                self.files[path] = self._stat(path)

    @staticmethod
    def _stat(path: str) -> tuple[int, int]:
        try:
            st = os.stat(path)
        except OSError:
            return (-1, -1)
        return (st.st_mtime_ns, st.st_size)

    def changed(self) -> bool:
        return any(self._stat(path) != seen for path, seen in self.files.items())
