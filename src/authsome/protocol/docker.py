"""docker-credential-helpers' dialect, sans-IO: exact bytes as its Go library writes them.

The library reads stdin with a line scanner (newlines dropped, lines joined), trims the
server URL, encodes answers with Go's json.Encoder (HTML-safe escapes, trailing
newline), and reports every error as one line on stdout with exit status 1.
"""

from __future__ import annotations

import json

from authsome.errors import AuthsomeError
from authsome.protocol import urls

NAME = "docker-credential-authsome"
ACTIONS = ("store", "get", "erase", "list", "version")

NOT_FOUND = "credentials not found in native keychain"
MISSING_SERVER_URL = "no credentials server URL"
MISSING_USERNAME = "no credentials username"

# Go's strings.TrimSpace, ASCII and Latin-1 part (unicode.IsSpace).
_GO_SPACE = " \t\n\v\f\r\x85\xa0"


class DockerError(AuthsomeError):
    """An error the helper reports on stdout (the client matches the message text)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def usage() -> str:
    return f"Usage: {NAME} <store|get|erase|list|version>"


def unknown_action(action: str) -> str:
    return f"Unknown credential action `{action}`"


def error_line(message: str) -> bytes:
    return (message + "\n").encode()


def _scan(data: bytes) -> str:
    """bufio.Scanner with ScanLines, lines concatenated: drops each LF and a CR before it."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    joined = b"".join(line[:-1] if line.endswith(b"\r") else line for line in lines)
    return joined.decode("utf-8", "replace")


def parse_server_url(data: bytes) -> str:
    """stdin of `get` and `erase`: the server URL as plain text."""
    url = _scan(data).strip(_GO_SPACE)
    if not url:
        raise DockerError(MISSING_SERVER_URL)
    return url


def parse_store(data: bytes) -> tuple[str, str, str]:
    """stdin of `store`: a Credentials JSON object -> (server_url, username, secret).

    Like Go's decoder: the first JSON value counts, field names match case-insensitively,
    unknown fields are ignored, and a missing ServerURL or Username is refused.
    """
    text = _scan(data).lstrip(_GO_SPACE)
    if not text:
        raise DockerError("EOF")  # what Go's decoder says about empty input
    try:
        obj, _ = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise DockerError("invalid JSON in credentials") from None
    if not isinstance(obj, dict):
        raise DockerError(
            f"json: cannot unmarshal {_go_type(obj)} into Go value of type credentials.Credentials"
        )
    fields = {"serverurl": "", "username": "", "secret": ""}
    go_names = {"serverurl": "ServerURL", "username": "Username", "secret": "Secret"}
    for key, value in obj.items():
        lower = key.lower()
        if lower in fields and value is not None:
            if not isinstance(value, str):
                raise DockerError(
                    f"json: cannot unmarshal {_go_type(value)} into Go struct field "
                    f"Credentials.{go_names[lower]} of type string"
                )
            fields[lower] = value
    if not fields["serverurl"]:
        raise DockerError(MISSING_SERVER_URL)
    if not fields["username"]:
        raise DockerError(MISSING_USERNAME)
    return fields["serverurl"], fields["username"], fields["secret"]


def _go_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {list: "array", dict: "object", str: "string"}.get(type(value), "value")


def go_json(obj: object) -> bytes:
    """Go's json.Encoder output: compact, HTML-safe escapes, U+2028/9 escaped, newline.

    Go sorts map keys; struct fields keep their declared order (the caller's dict order).
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return (text + "\n").encode("utf-8", "replace")


def format_credentials(server_url: str, username: str, secret: str) -> bytes:
    return go_json({"ServerURL": server_url, "Username": username, "Secret": secret})


def format_list(accounts: dict[str, str]) -> bytes:
    return go_json(dict(sorted(accounts.items())))


def format_version(version: str) -> bytes:
    return f"{NAME} (authsome) {version}\n".encode()


def registry_host(server_url: str) -> str:
    """The registry a server URL names, by the one URL rule (`urls`): scheme and path
    dropped, lower case, default port folded (`https://ghcr.io/v2/` -> `ghcr.io`).
    "" when the rule refuses it (userinfo, a backslash, an odd host): no registry."""
    text = server_url.strip()
    try:
        if "://" in text:
            url = urls.split_url(text)
            return urls.host_port(url.host, url.port, url.scheme)
        return urls.normal_authority(text.split("/", 1)[0])
    except urls.URLRefused:
        return ""


def provider_for_registry(providers: list[dict], server_url: str) -> dict | None:
    """The provider whose `docker_registries` names this registry, as {provider, username}.

    Only a bare host or an `https://` URL: `http://` would send the token in cleartext,
    and any other scheme (`ftp://ghcr.io`) is not a registry docker reaches with TLS.
    Refuses ambiguous claims too (two providers, one registry).
    """
    scheme, sep, _ = server_url.strip().partition("://")
    if sep and scheme.lower() != "https":
        return None
    want = registry_host(server_url)
    if not want:
        return None
    found = []
    for p in providers:
        for entry in p.get("docker_registries") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("registry"), str):
                continue
            if registry_host(entry["registry"]) == want:
                username = entry.get("username") or "x-access-token"
                found.append({"provider": p.get("name"), "username": username})
    return found[0] if len(found) == 1 else None


def entry_name(server_url: str) -> str:
    """Vault name of a stored login: one per server URL exactly as docker sends it."""
    import hashlib

    return hashlib.sha256(server_url.encode("utf-8", "surrogateescape")).hexdigest()[:32]
