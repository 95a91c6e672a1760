"""`authsome`: parse, call the layers below, print. One line on stderr for any failure."""

from __future__ import annotations

import os
import sys

from authsome import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `run` through the agent never needs typing
if TYPE_CHECKING:
    from authsome.errors import AuthsomeError

# Each command: the module `authsome.cli.cmd_<module>` (register(subparsers), run(args))
# and its one-line summary for the help listing. The summaries live here so that
# `authsome --help` imports no command module; a test checks each module says the same.
COMMANDS = {
    "list": ("list", "list providers and connections"),
    "inspect": ("inspect", "print a provider's effective definition as JSON"),
    "login": ("login", "log in to a provider (OAuth2 in the browser, device code, or an API key)"),
    "logout": ("logout", "revoke a connection at the provider and forget it"),
    "get": ("get", "show a connection (secrets masked)"),
    "export": ("export", "print tokens as environment variables"),
    "run": ("run", "run a command under the token-injecting proxy"),
    "hook": ("hook", "print the shell hook (bash, zsh or fish)"),
    "allow": ("allow", "approve the .authsome.toml governing DIR (its exact content)"),
    "deny": ("allow", "block the .authsome.toml governing DIR until it is allowed again"),
    "doctor": ("doctor", "check the setup and say what to fix"),
    "log": ("log", "show the last audit events"),
    "vault": ("vault", "set up a shared vault on PostgreSQL"),
    "import": ("import", "store the tokens and API keys a .env file holds"),
    "completion": ("completion", "print the shell completion script (bash, zsh or fish)"),
    "agent": ("agent", "show or stop the warm helper agent"),
}

EPILOG = """examples:
  authsome login hubspot                 log in once (OAuth2 in the browser)
  printf %s "$KEY" | authsome login openai --api-key-stdin
  authsome get hubspot --field status
  eval "$(authsome export hubspot --format env)"
  authsome run -- python my_agent.py     the child only sees a placeholder

exit codes (authsome and authsome-helper):
  0    success
  1    unexpected failure
  2    usage or bad input
  3    connection not found
  4    unknown provider
  5    credential unusable: expired and the refresh failed, or revoked (log in again)
  6    vault unavailable: no key, keyring locked
  7    timed out, or refused at the provider (access_denied)
  130  interrupted (Ctrl-C)
"""


_built: dict[tuple[str, ...] | None, object] = {}


def build_parser(load: list[str] | None = None):
    """The argparse tree; imported here so the hook worker's dispatch skips argparse.

    `load` names the commands whose modules are imported and registered in full (None:
    all of them). With none to load (`--help`, an unknown command), every command is
    listed by its summary alone, which is all the listing and the error need.

    Built once per process and `load`: parsing leaves a parser as it was, and help is
    laid out when printed. The warm agent and its run processes parse many times.
    """
    key = None if load is None else tuple(load)
    if key not in _built:
        _built[key] = _build_parser(load)
    return _built[key]


def _build_parser(load: list[str] | None):
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
    modules = {COMMANDS[n][0] for n in (COMMANDS if load is None else load) if n in COMMANDS}
    for name, (module_name, summary) in COMMANDS.items():
        if name in sub.choices:
            continue  # registered by its module along with another (allow/deny)
        if module_name not in modules:
            if not modules:  # the listing (--help, an unknown command): every summary
                sub.add_parser(name, help=summary, add_help=False)
            continue  # a known command runs: the others' parsers would cost ms for nothing
        try:
            module = importlib.import_module(f"authsome.cli.cmd_{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"authsome.cli.cmd_{module_name}":
                continue  # a command still being built
            raise
        module.register(sub)
    return parser


def _make_home() -> None:
    """Any command makes the home (0700) and its providers/ folder, so that the first
    thing a user may do, `authsome inspect NAME > ~/.authsome/providers/NAME.json`,
    finds the folder. A home we cannot make is the command's own error to report."""
    import os

    from authsome import paths

    try:
        if not os.path.isdir(paths.providers_dir()):
            paths.ensure_home()  # an existing home's mode is doctor's to report, not ours
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the console script (the agent and tests pass argv)
        argv = sys.argv[1:]
        if argv[:1] in (["get"], ["list"]):
            # Read-only: a warm agent answers in a few ms, else this returns unchanged.
            from authsome.agent.client import delegate

            delegate("cli")
        elif argv[:1] == ["run"]:
            # The warm agent holds the run's proxy; this process only starts the child.
            from authsome.agent import runclient

            status = runclient.run(argv)
            if status is not None:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status & 0xFF)  # nothing left to tear down: skip the interpreter's
    if argv and argv[0] == "_hook-env":
        # The shell hook's worker: straight there, without argparse or the other commands.
        from authsome.shell.worker import main as worker

        return worker(argv[1:])
    if argv and argv[0] == "_complete-providers":
        # Shell completion at <TAB>: a directory listing, without building the parser.
        from authsome.cli.cmd_completion import print_providers

        return print_providers()
    if argv == ["--version"]:
        print(f"authsome {__version__}")  # as argparse would, without importing it
        return 0
    from authsome.entrypoints import guard  # not before: `run` and the agent's reads exit above

    return guard(lambda: serve(argv), report)


def serve(argv: list[str]) -> int:
    try:
        # Only the named command's module loads: the top level has no option taking a
        # value, so the first plain word is the command.
        first = next((a for a in argv if not a.startswith("-")), None)
        parser = build_parser([first] if first in COMMANDS else [])
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        _make_home()
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader went away (`authsome list | head`): not our failure.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def report(error: AuthsomeError) -> None:
    from authsome.terminal import visible

    print(f"authsome: {visible(error)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
