"""The one entry-point runner of `authsome-helper` and the git and docker adapters.

As docker-credential-helpers' `Serve`/`HandleCommand`: a console script first offers its
run to the warm agent (explicitly, here; importing a module does nothing), else loads its
entry module and runs it; `guard` maps whatever ends the run to one AuthsomeError
(`errors.as_error`), which the entry's dialect prints its own way, and its exit code.

Import-light: `os` and `sys` until the agent has had its chance.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable

    from authsome.errors import AuthsomeError

# Entry name (as the agent knows it) -> the module whose `main(argv)` runs it.
MODULES = {
    "helper": "authsome.helper.main",
    "git": "authsome.adapters.git",
    "docker": "authsome.adapters.docker",
    "cli": "authsome.cli.main",  # `authsome get`/`list`: its main delegates by itself
}


def guard(body: Callable[[], int], report: Callable[[AuthsomeError], None]) -> int:
    """Run `body`; a failure is reported once through `report`, and its exit code returned.

    With AUTHSOME_DEBUG set, an unexpected exception keeps its traceback.
    """
    try:
        return body()
    except (Exception, KeyboardInterrupt) as exc:
        from authsome.errors import AuthsomeError, as_error

        if not isinstance(exc, (AuthsomeError, KeyboardInterrupt)) and os.environ.get(
            "AUTHSOME_DEBUG"
        ):
            raise
        error = as_error(exc)
        report(error)
        return error.exit_code


def stderr_report(prog: str) -> Callable[[AuthsomeError], None]:
    """The dialect of a tool that shows our stderr (git, kubectl, Bazel): one line."""

    def report(error: AuthsomeError) -> None:
        print(f"{prog}: {error}", file=sys.stderr)

    return report


def warn(message: str) -> None:
    """Where a front end run from a terminal puts the service's warnings: one line on stderr."""
    sys.stderr.write(f"authsome: warning: {message}\n")


def run(entry: str, argv: list[str] | None = None) -> int:
    """A console script's run: through the agent when one serves it, else here."""
    if argv is None:
        from authsome.agent.client import delegate

        delegate(entry)  # exits with the agent's answer, or returns having changed nothing
        argv = sys.argv[1:]
    name = MODULES[entry]
    __import__(name)  # not importlib: the hot path does not pay for it
    return sys.modules[name].main(argv)


def helper(argv: list[str] | None = None) -> int:
    """`authsome-helper`."""
    return run("helper", argv)


def git(argv: list[str] | None = None) -> int:
    """`git-credential-authsome`."""
    return run("git", argv)


def docker(argv: list[str] | None = None) -> int:
    """`docker-credential-authsome`."""
    return run("docker", argv)
