"""`docker-credential-authsome store|get|erase|list|version` (docker-credential-helpers).

A registry listed in a provider's `docker_registries` is answered with that provider's
token (default connection); every other registry's login is kept encrypted in the
vault (kind "docker"), one entry per server URL. Errors go to stdout as one line,
as the docker client reads them there.
"""

from __future__ import annotations

import sys

from authsome.entrypoints import guard, warn
from authsome.errors import AuthsomeError
from authsome.protocol import docker as proto

KIND = "docker"
CONNECTION = "default"
MIN_TTL = 60
MAX_INPUT = 1 << 20


def _target(server_url: str) -> dict | None:
    from authsome.providers.rules import all_providers_raw

    host = proto.registry_host(server_url)
    return proto.provider_for_registry(all_providers_raw(mentions=host or None), server_url)


def _vault():
    from authsome.vault.vault import Vault

    return Vault()


def get(data: bytes) -> bytes:
    from authsome.errors import inside_run

    if inside_run():  # no credential: docker goes on unauthenticated (SPEC §6.10)
        raise proto.DockerError(proto.NOT_FOUND)
    url = proto.parse_server_url(data)
    target = _target(url)
    if target is not None:
        from authsome.fastpath import answer
        from authsome.protocol.helper import answer_secret

        got = answer(target["provider"], CONNECTION, MIN_TTL, missing_ok=True, warn=warn)
        if got is not None:
            return proto.format_credentials(url, target["username"], answer_secret(got))
    entry = _vault().get(KIND, proto.entry_name(url))
    if entry is None:
        raise proto.DockerError(proto.NOT_FOUND)
    return proto.format_credentials(url, entry["Username"], entry["Secret"])


def store(data: bytes) -> bytes:
    url, username, secret = proto.parse_store(data)
    target = _target(url)
    if target is not None and secret:
        from authsome.fastpath import stored_secret

        if secret == stored_secret(target["provider"], CONNECTION):
            return b""  # docker echoing our own token back: it is not a login to keep
    from authsome import audit

    vault = _vault()
    name = proto.entry_name(url)
    with vault.lock(KIND, name):
        vault.put(KIND, name, {"ServerURL": url, "Username": username, "Secret": secret})
    audit.record("docker_store", registry=proto.registry_host(url))
    return b""


def erase(data: bytes) -> bytes:
    url = proto.parse_server_url(data)
    vault = _vault()
    name = proto.entry_name(url)
    with vault.lock(KIND, name):
        erased = vault.delete(KIND, name)
    if erased:
        from authsome import audit

        audit.record("docker_erase", registry=proto.registry_host(url))
        return b""
    target = _target(url)
    if target is None:
        raise proto.DockerError(proto.NOT_FOUND)
    print(
        f"docker-credential-authsome: {proto.registry_host(url)} uses the {target['provider']}"
        f" connection; forget it with `authsome logout {target['provider']}`",
        file=sys.stderr,
    )
    return b""


def list_() -> bytes:
    from authsome.providers.rules import all_providers_raw

    vault = _vault()
    accounts: dict[str, str] = {}
    connected = None
    for p in all_providers_raw():
        for entry in p.get("docker_registries") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("registry"), str):
                continue
            if connected is None:
                from authsome.credentials import CredentialService

                connected = {
                    c.provider
                    for c in CredentialService().list()
                    if c.connection == CONNECTION and c.status == "connected"
                }
            if p.get("name") in connected:
                accounts[entry["registry"]] = entry.get("username") or "x-access-token"
    for name in vault.names(KIND):
        entry = vault.get(KIND, name)
        if entry is not None:
            accounts[entry["ServerURL"]] = entry["Username"]
    return proto.format_list(accounts)


def handle(action: str, data: bytes) -> bytes:
    if action == "get":
        return get(data)
    if action == "store":
        return store(data)
    if action == "erase":
        return erase(data)
    if action == "list":
        return list_()
    from authsome import __version__

    return proto.format_version(__version__)


def _write(reply: bytes) -> bool:
    try:
        sys.stdout.buffer.write(reply)
        sys.stdout.flush()
    except BrokenPipeError:
        return False
    return True


def serve(argv: list[str]) -> int:
    if len(argv) != 1:
        raise proto.DockerError(proto.usage())
    action = {"--version": "version", "-v": "version"}.get(argv[0], argv[0])
    if action in ("--help", "-h"):
        reply = proto.error_line(proto.usage())
    elif action not in proto.ACTIONS:
        raise proto.DockerError(proto.unknown_action(action))
    else:
        data = sys.stdin.buffer.read(MAX_INPUT) if action in ("get", "store", "erase") else b""
        reply = handle(action, data)
    return 0 if _write(reply) else 1


def report(error: AuthsomeError) -> None:
    """The docker client reads a helper's error from stdout, as one line."""
    _write(proto.error_line(str(error)))


def main(argv: list[str] | None = None) -> int:
    return guard(lambda: serve(sys.argv[1:] if argv is None else argv), report)


if __name__ == "__main__":
    from authsome.entrypoints import docker

    sys.exit(docker())
