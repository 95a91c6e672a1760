"""`authsome completion bash|zsh|fish`: print a completion script for the shell.

Provider names come from the hidden `authsome _complete-providers`, which main() runs
before argparse is even built: a listing of the bundled and user provider directories,
so a <TAB> costs one small process and no JSON parsing.
"""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh", "fish")

EPILOG = """examples:
  eval "$(authsome completion bash)"      in ~/.bashrc
  eval "$(authsome completion zsh)"       in ~/.zshrc, after compinit
  authsome completion fish > ~/.config/fish/completions/authsome.fish
"""


def register(sub) -> None:
    p = sub.add_parser(
        "completion",
        help="print the shell completion script (bash, zsh or fish)",
        description="Print a script that completes authsome's commands, flags and provider "
        "names in bash, zsh or fish.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=run)


def run(args) -> int:
    from authsome.cli import completion_scripts as scripts
    from authsome.cli.cmd_hook import executable
    from authsome.cli.main import build_parser
    from authsome.protocol.shellquote import posix_quote
    from authsome.shell.dialect import get

    cmds = scripts.commands(build_parser())
    exe = executable()
    if args.shell == "fish":
        text = scripts.fish(cmds, exe, get("fish").quote)
    else:
        text = getattr(scripts, args.shell)(cmds, posix_quote(exe))
    sys.stdout.write(text)
    return 0


def provider_names(home: str | None = None) -> list[str]:
    """Bundled and user provider names, from file names alone (the loader insists they match)."""
    from authsome import paths
    from authsome.providers.rules import BUNDLED_DIR, json_files

    return sorted({**json_files(BUNDLED_DIR), **json_files(paths.providers_dir(home))})


def print_providers() -> int:
    sys.stdout.write("".join(f"{n}\n" for n in provider_names()))
    return 0
