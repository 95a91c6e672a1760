"""The error hierarchy: every user-facing failure maps to one exit code and one wire code.

`as_error` is the one mapping from whatever ended a run (our errors, Ctrl-C, a bug) to
the error reported; each front end only says how it prints one. Kept import-free: the
helper's hot path loads it on every call.
"""

from __future__ import annotations


class AuthsomeError(Exception):
    """Base for errors we expect and report in one line (never a traceback)."""

    exit_code = 1
    code = "internal"


class UsageError(AuthsomeError):
    """Bad arguments or malformed input."""

    exit_code = 2
    code = "bad_request"


class NotFound(AuthsomeError):
    """No such connection (or stored entry)."""

    exit_code = 3
    code = "not_found"


class UnknownProvider(AuthsomeError):
    exit_code = 4
    code = "unknown_provider"


class ReauthRequired(AuthsomeError):
    """The credential cannot be used any more: expired and refresh failed, or revoked."""

    exit_code = 5
    code = "reauth_required"


class StepUpRequired(ReauthRequired):
    """The server asked for scopes the token lacks (a 403 insufficient_scope the proxy
    saw); `scopes` go into the helper's error object."""

    def __init__(self, message: str, scopes: list[str]) -> None:
        super().__init__(message)
        self.scopes = list(scopes)


class VaultUnavailable(AuthsomeError):
    """No key, a locked keyring, or a vault we cannot open."""

    exit_code = 6
    code = "vault_unavailable"


class TimedOut(AuthsomeError):
    """A flow timed out or was cancelled."""

    exit_code = 7
    code = "timeout"


class Interrupted(TimedOut):
    """Ctrl-C: exit 130 as shells report SIGINT (7 stays for timeouts and refusals).
    The helper's wire code stays "timeout", the SPEC's code for a flow that did not end."""

    exit_code = 130


class ProviderError(AuthsomeError):
    """A provider definition breaks the schema. Carries the file and the field at fault."""

    exit_code = 2
    code = "bad_request"

    def __init__(self, message: str, path: str | None = None, field: str | None = None):
        self.path = path
        self.field = field
        where = f"{path}: " if path else ""
        at = f"field '{field}': " if field else ""
        super().__init__(f"{where}{at}{message}")


class NetworkError(AuthsomeError):
    """The provider could not be reached or failed transiently (transport error, HTTP 5xx).

    Distinct from OAuthError, which is a definite answer (invalid_grant, access_denied).
    Callers that hold a still-valid token keep using it on this error.
    """

    exit_code = 1
    code = "internal"


class OAuthError(AuthsomeError):
    """The authorization server refused or failed a request (RFC 6749 error codes)."""

    exit_code = 1
    code = "internal"

    def __init__(self, message: str, error: str | None = None):
        self.error = error
        super().__init__(message)


def as_error(exc: BaseException) -> AuthsomeError:
    """The error to report for whatever ended a run: ours as it is, Ctrl-C as an
    interrupted one (exit 130, wire code "timeout"), anything else as an internal error
    that names only its type (no message: it may hold a secret)."""
    if isinstance(exc, AuthsomeError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted("cancelled")
    return AuthsomeError(f"internal error ({type(exc).__name__}); set AUTHSOME_DEBUG=1 for details")


# -- inside `authsome run` (SPEC §6.10) ---------------------------------------------------
# `run` sets this in its child's environment. A guard for honest agents that try to read
# a token the proxy injects for them, not a boundary (that is `run --sandbox`).
RUN_MARKER = "AUTHSOME_RUN"


class RefusedInRun(UsageError):
    """A secret asked for inside `authsome run`, where the proxy injects it instead."""

    code = "refused_in_run"


def inside_run() -> bool:
    import os

    return bool(os.environ.get(RUN_MARKER))


def refuse_inside_run(what: str) -> None:
    """Raise RefusedInRun inside `authsome run`: one line saying why and what to do."""
    if inside_run():
        raise RefusedInRun(
            f"{what} is refused inside `authsome run`: the proxy adds the token to your "
            "requests; send them with the placeholder as they are"
        )
