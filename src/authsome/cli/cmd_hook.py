"""`authsome hook bash|zsh|fish`: print the shell hook to install in the rc file."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from authsome.shell import dialect

EPILOG = """install:
  bash  ~/.bashrc                  eval "$(authsome hook bash)"
  zsh   ~/.zshrc                   eval "$(authsome hook zsh)"
  fish  ~/.config/fish/config.fish authsome hook fish | source
then put a .authsome.toml in a project and approve it with `authsome allow`."""


def register(sub) -> None:
    p = sub.add_parser(
        "hook",
        help="print the shell hook (bash, zsh or fish)",
        description="Print the code that exports tokens per project directory "
        "(.authsome.toml, approved with `authsome allow`; see docs/shell.md).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=dialect.SHELLS, help="the shell to hook into")
    p.set_defaults(func=run)


# The worker started straight by this interpreter: `-I` keeps the current directory
# (a project someone else wrote) and PYTHON* variables out of its imports, and the
# console script's `import re` and the CLI's argparse are skipped (about 10 ms per
# directory change). `authsome _hook-env` reaches the same main().
WORKER = "import sys;from authsome.shell.worker import main;sys.exit(main())"


def worker_command() -> list[str]:
    """How the hook starts the worker, with absolute paths (as direnv embeds its own)."""
    python = sys.executable
    if python and os.path.isabs(python) and os.access(python, os.X_OK):
        return [python, "-I", "-c", WORKER]
    return [executable()]


def executable() -> str:
    """The absolute path of the running `authsome`."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0).startswith("authsome"):
        path = os.path.abspath(argv0)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("authsome")
    return os.path.abspath(found) if found else "authsome"


def run(args) -> int:
    sys.stdout.write(dialect.get(args.shell).hook(worker_command()))
    return 0
