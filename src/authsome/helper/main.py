"""`authsome-helper ACTION [PROVIDER] [--connection NAME]`: the exec protocol (SPEC §5).

Stdout holds exactly one JSON object; human messages go to stderr. `get` of a valid
cached token goes through `fastpath.answer` and never imports the HTTP or OAuth machinery.
"""

from __future__ import annotations

import sys

from authsome.entrypoints import guard, warn
from authsome.errors import AuthsomeError, UsageError
from authsome.protocol import helper as proto
from authsome.protocol.argv import split_connection

USAGE = (
    "usage: authsome-helper ACTION [PROVIDER] [--connection NAME]  (actions: "
    + ", ".join(proto.ACTIONS)
    + ")"
)


def parse_argv(argv: list[str]) -> tuple[str, dict]:
    """ACTION and the fields given as arguments. Pure; raises UsageError."""
    if not argv:
        raise UsageError(USAGE)
    action = argv[0]
    connection, positional = split_connection(argv[1:])
    fields: dict = {} if connection is None else {"connection": connection}
    if len(positional) > 1:
        raise UsageError(f"too many arguments: {' '.join(positional[1:])}")
    if positional:
        fields["provider"] = positional[0]
    return action, fields


def _read_stdin() -> bytes:
    from authsome.entry_stdin import read_json_input

    return read_json_input()


def _need_provider(request: dict) -> str:
    provider = request.get("provider")
    if not provider:
        raise UsageError("a provider is required (authsome-helper ACTION PROVIDER)")
    return provider


def _step_up(got: dict) -> None:
    """The token is known to lack scopes the server asked for: say so, with the login
    that adds them, rather than hand out a token the next call will see refused."""
    from authsome.errors import StepUpRequired
    from authsome.protocol.challenge import step_up_message

    scopes = got["missing_scopes"]
    raise StepUpRequired(step_up_message(got["provider"], got["connection"], scopes), scopes)


def _emit(message: dict) -> None:
    sys.stdout.write(proto.encode(message))
    sys.stdout.flush()


def dispatch(action: str, request: dict) -> int:
    connection = request.get("connection") or "default"
    if action == "version":
        from authsome import __version__

        _emit({"protocol": proto.PROTOCOL, "version": __version__, "actions": list(proto.ACTIONS)})
        return 0
    if action == "get" and not request.get("provider") and request.get("uri"):
        # Bazel's credential-helper protocol: `helper get` with {"uri": ...} on stdin.
        action = "headers"
    if action == "get":
        from authsome.fastpath import answer

        got = answer(_need_provider(request), connection, request.get("min_ttl", 60), warn=warn)
        if "missing_scopes" in got:
            _step_up(got)
        _emit(got)
        return 0
    if action == "k8s":
        from authsome.adapters import k8s

        provider = _need_provider(request)
        return guard(lambda: k8s.serve(provider, connection, request), k8s.report)
    if action == "headers":
        from authsome.adapters import headers

        provider = request.get("provider")
        return guard(lambda: headers.serve(provider, connection, request), headers.report)

    from authsome.helper import actions

    return actions.run(action, request, connection, _emit)


def serve(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if not argv and sys.stdout.isatty():
        # A person at a terminal, not a program reading JSON: the usage, not an error object.
        print(USAGE, file=sys.stderr)
        return 2
    if argv and argv[0] in ("-V", "--version"):
        argv = ["version"]
    action, fields = parse_argv(argv)
    if action not in proto.ACTIONS:
        raise UsageError(f"unknown action '{action}'")
    # kubectl hands the plugin its own terminal/stdin: never read it for k8s.
    stdin = b"" if action == "k8s" else _read_stdin()
    request = proto.parse_request(stdin, fields)
    return dispatch(action, request)


def report(error: AuthsomeError) -> None:
    """The helper's dialect: the error as JSON on stdout, one line on stderr."""
    _emit(proto.error_response(error))
    print(f"authsome-helper: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return guard(lambda: serve(sys.argv[1:] if argv is None else argv), report)


if __name__ == "__main__":
    from authsome.entrypoints import helper

    sys.exit(helper())
