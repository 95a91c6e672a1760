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
        description="Print the code that exports tokens per project directory (SPEC §7).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=dialect.SHELLS, help="the shell to hook into")
    p.set_defaults(func=run)


def executable() -> str:
    """The absolute path of the running `authsome`, which the hook calls (as direnv does)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0).startswith("authsome"):
        path = os.path.abspath(argv0)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("authsome")
    return os.path.abspath(found) if found else "authsome"


def run(args) -> int:
    sys.stdout.write(dialect.get(args.shell).hook(executable()))
    return 0
