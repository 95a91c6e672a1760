"""`git-credential-authsome [--connection NAME] get|store|erase` (gitcredentials(7)).

A host listed in a provider's `git_hosts` is answered with that provider's token;
every other host gets a storage helper over the encrypted vault (kind "git"), a safe
replacement for `git credential-store`. The hot path (get for a provider host with a
valid cached token) imports only `fastpath` (its one answer call) and the protocol module.
"""

from __future__ import annotations

import sys
import time

from authsome.entrypoints import guard, stderr_report, warn
from authsome.errors import UsageError
from authsome.protocol import git as proto
from authsome.protocol.argv import split_connection

PROG = "git-credential-authsome"
USAGE = f"usage: {PROG} [--connection NAME] get|store|erase"
KIND = "git"  # vault kind of the storage helper's entries
MIN_TTL = 60  # a fetch or push should not outlive the token it started with
MAX_INPUT = 1 << 20


def parse_argv(argv: list[str]) -> tuple[str, str]:
    """(connection, action). git appends the action to whatever the config gives."""
    connection, rest = split_connection(argv)
    if len(rest) != 1:
        raise UsageError(USAGE)
    return connection or "default", rest[0]


def read_request(stream) -> bytes:
    """git's input: lines up to a blank line or EOF (bounded)."""
    from authsome.entry_stdin import read_lines

    return read_lines(stream, MAX_INPUT)


def handle(action: str, request: dict, connection: str) -> proto.Fields:
    """The fields to answer with (empty: say nothing)."""
    from authsome.errors import inside_run

    if inside_run():
        return []  # no credential: git goes on unauthenticated, the run's proxy injects
    protocol, host = request.get("protocol"), request.get("host")
    if not protocol or not host:
        return []  # git always sends both; there is nothing to match on
    from authsome.fastpath import matchable_providers

    target = proto.provider_for_host(matchable_providers(host=host), protocol, host)
    if target is not None:
        provider = target["provider"]
        connection = target.get("connection") or connection
        if action == "get":
            from authsome.fastpath import answer
            from authsome.protocol.helper import answer_expiry, answer_secret

            got = answer(provider, connection, MIN_TTL, missing_ok=True, warn=warn)
            if got is not None:
                return proto.token_answer(
                    request,
                    target["username"],
                    answer_secret(got),
                    answer_expiry(got),
                    target["bearer"],
                )
        else:
            from authsome.fastpath import stored_secret

            sent = request.get("password") or request.get("credential")
            current = stored_secret(provider, connection)
            if current is not None and sent in (None, current):
                if action == "erase":
                    # The server refused our token: the next get refreshes first.
                    from authsome.credentials import CredentialService

                    CredentialService().mark_rejected(provider, connection)
                    return []
                return []  # store: the token is ours already; it never goes to storage
    return storage(action, request)


def storage(action: str, request: dict) -> proto.Fields:
    """The storage helper: entries in the vault, one per (protocol, host, path, username)."""
    from authsome import audit
    from authsome.vault.vault import Vault

    vault = Vault()
    now = int(time.time())
    prefix = proto.host_prefix(request["protocol"], request["host"]) + "-"

    def entries() -> list[tuple[str, dict]]:
        out = []
        for name in vault.names(KIND):
            if name.startswith(prefix):
                entry = vault.get(KIND, name)
                if entry is not None:
                    out.append((name, entry))
        return out

    if action == "get":
        return proto.answer_from(request, [e for _, e in entries()], now)
    if action == "store":
        entry = proto.entry_to_store(request, now)
        if entry is not None:
            name = proto.entry_name(entry)
            with vault.lock(KIND, name):
                vault.put(KIND, name, entry)
            audit.record("git_store", protocol=entry["protocol"], host=entry["host"])
        return []
    if proto.erasable(request):  # erase
        erased = 0
        for name, entry in entries():
            if proto.matches(request, entry, match_password=True):
                with vault.lock(KIND, name):
                    erased += vault.delete(KIND, name)
        if erased:
            audit.record("git_erase", protocol=request["protocol"], host=request["host"])
    return []


def serve(argv: list[str]) -> int:
    connection, action = parse_argv(argv)
    if action not in ("get", "store", "erase"):
        return 0  # git asks helpers to ignore actions they do not know
    from authsome.records import valid_name

    if not valid_name(connection):
        raise UsageError(f"bad connection name '{connection}'")
    request = proto.parse(read_request(sys.stdin.buffer))
    fields = handle(action, request, connection)
    out = proto.format_fields(fields) if fields else b""
    if out:
        try:
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
        except BrokenPipeError:
            return 1
    return 0


# git shows a helper's stderr and ignores its stdout on failure.
report = stderr_report(PROG)


def main(argv: list[str] | None = None) -> int:
    return guard(lambda: serve(sys.argv[1:] if argv is None else argv), report)


if __name__ == "__main__":
    from authsome.entrypoints import git

    sys.exit(git())
