"""`authsome`: parse, call the layers below, print. One line on stderr for any failure."""

from __future__ import annotations

import os
import sys

from authsome import __version__
from authsome.errors import AuthsomeError

# Each name is a module `authsome.cli.cmd_<name>` with register(subparsers) and run(args).
COMMANDS = [
    "list",
    "inspect",
    "login",
    "logout",
    "get",
    "export",
    "run",
    "hook",
    "allow",
    "doctor",
    "log",
    "vault",
    "import",
    "completion",
    "agent",
]

EPILOG = """examples:
  authsome login hubspot                 log in once (OAuth2 in the browser)
  printf %s "$KEY" | authsome login openai --api-key-stdin
  authsome get hubspot --field status
  eval "$(authsome export hubspot --format env)"
  authsome run -- python my_agent.py     the child only sees a placeholder
"""


def build_parser(only: str | None = None):
    """The argparse tree; imported here so the hook worker's dispatch skips argparse."""
    import argparse
    import importlib

    class Parser(argparse.ArgumentParser):
        """argparse, but a usage error is one line (and exit 2), as the SPEC asks."""

        def error(self, message: str) -> None:  # type: ignore[override]
            self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    parser = Parser(
        prog="authsome",
        description="Log in once per provider; hand tokens to tools, shells and agents.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"authsome {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    # A known command loads only its own module: `authsome run` and friends start faster.
    for name in [only] if only in COMMANDS else COMMANDS:
        try:
            module = importlib.import_module(f"authsome.cli.cmd_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"authsome.cli.cmd_{name}":
                continue  # a command still being built
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_hook-env":
        # The shell hook's worker: straight there, without argparse or the other commands.
        from authsome.shell.worker import main as worker

        return worker(argv[1:])
    if argv and argv[0] == "_complete-providers":
        # Shell completion at <TAB>: a directory listing, without building the parser.
        from authsome.cli.cmd_completion import print_providers

        return print_providers()
    try:
        first = next((a for a in argv if not a.startswith("-")), None)
        parser = build_parser(first if first in argv[:1] else None)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except AuthsomeError as exc:
        print(f"authsome: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("authsome: cancelled", file=sys.stderr)
        return 7
    except BrokenPipeError:
        # The reader went away (`authsome list | head`): not our failure.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("AUTHSOME_DEBUG"):
            raise
        print(
            f"authsome: internal error ({type(exc).__name__}); set AUTHSOME_DEBUG=1 for details",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
