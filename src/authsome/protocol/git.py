"""git's credential helper dialect (gitcredentials(7), git-credential(1)), sans-IO.

Parsing and formatting of the `key=value` lines, which provider answers which host, and
the pure rules of the storage helper: what an approved credential keeps, which stored
entries answer a request, which ones an `erase` removes. The entry point does the I/O.

Import-light (stdlib only, hashlib on the storage path): git runs us on every fetch.
"""

from __future__ import annotations

from collections.abc import Iterable

from authsome.errors import UsageError
from authsome.protocol import urls

Fields = list[tuple[str, str]]

# What `store` keeps, and the attributes that identify one stored entry.
STORED_KEYS = (
    "protocol",
    "host",
    "path",
    "username",
    "password",
    "password_expiry_utc",
    "oauth_refresh_token",
)
IDENTITY_KEYS = ("protocol", "host", "path", "username")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class GitProtocolError(UsageError):
    """Input git would never send, or output git would refuse."""


def parse(data: bytes) -> dict:
    """Read `key=value` lines up to a blank line or EOF.

    Single keys keep their last value (as git does); `key[]` keys collect a list, which
    an empty `key[]=` clears. A line without '=' or a value with NUL or CR is refused:
    git never sends either, and such input is trickery. Messages never quote values.
    """
    text = data.decode("utf-8", "surrogateescape")
    out: dict = {}
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw  # git's own reader drops CRLF's CR
        if not line:
            break
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise GitProtocolError("invalid credential line (expected key=value)")
        if "\0" in line or "\r" in line:
            raise GitProtocolError("credential value contains NUL or carriage return")
        if key.endswith("[]"):
            items = out.setdefault(key, [])
            if value:
                items.append(value)
            else:
                items.clear()
        else:
            out[key] = value
    return out


def format_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    """Serialize an answer; refuses (all of it) rather than print a line git would reject."""
    lines = []
    for key, value in fields:
        if not key or "=" in key or _unsafe(key) or _unsafe(value):
            raise GitProtocolError(f"refusing to send an unsafe value for {_name(key)}")
        lines.append(f"{key}={value}\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


def _unsafe(s: str) -> bool:
    return "\0" in s or "\n" in s or "\r" in s


def _name(key: str) -> str:
    return key if key.replace("_", "").replace("[]", "").isalnum() else "a field"


def has_capability(request: dict, name: str) -> bool:
    return name in request.get("capability[]", ())


# --- hosts answered with a provider's token ------------------------------------------


def _norm_host(protocol: str, host: str) -> str | None:
    """`host[:port]` by the one URL rule (`urls`); None if it refuses it."""
    try:
        return urls.normal_authority(host, protocol)
    except urls.URLRefused:
        return None


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK


def provider_for_host(providers: Iterable[dict], protocol: str, host: str) -> dict | None:
    """The provider whose `git_hosts` names this host, as {provider, username, bearer}.

    Only over https (plain http only to loopback, for local development): a token is
    never handed to a cleartext remote. Two providers claiming one host is ambiguous
    and answers None, like `api_url` ties.
    """
    if protocol != "https" and not (protocol == "http" and _is_loopback(host)):
        return None
    want = _norm_host(protocol, host)
    if want is None:  # userinfo, a backslash, an odd host: no provider's token
        return None
    found = []
    for p in providers:
        for entry in p.get("git_hosts") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("host"), str):
                continue
            if _norm_host(protocol, entry["host"]) == want:
                found.append(
                    {
                        "provider": p.get("name"),
                        "username": entry.get("username") or "x-access-token",
                        "bearer": entry.get("bearer") is True,
                        "connection": p.get("_connection"),
                    }
                )
    return found[0] if len(found) == 1 else None


def token_answer(
    request: dict, username: str, token: str, expires_at: int | None, bearer: bool
) -> Fields:
    """The reply for a provider host: Bearer when both sides support it, else user/pass.

    `ephemeral=1` asks git not to hand the Bearer credential to storage helpers: it is
    ours, refreshed here, and must not end up in credential-store's plaintext file.
    """
    if bearer and has_capability(request, "authtype"):
        fields = [
            ("capability[]", "authtype"),
            ("authtype", "Bearer"),
            ("credential", token),
            ("ephemeral", "1"),
        ]
    else:
        fields = [("username", username), ("password", token)]
    if expires_at is not None:
        fields.append(("password_expiry_utc", str(expires_at)))
    return fields


# --- the storage helper --------------------------------------------------------------


def parse_expiry(value: object) -> int | None:
    """`password_expiry_utc` as epoch seconds; 0 or garbage means "no expiry" (as git)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value or None
    if isinstance(value, str) and value.isdigit():
        return int(value) or None
    return None


def entry_to_store(request: dict, now: int) -> dict | None:
    """What `store` keeps, or None: too little to be useful (as credential-store), or a
    password that has already expired (git itself would not store it). As git's own
    credential-store, an empty username or password counts as given (an SSO host's
    `username=` / `password=`); a missing one does not."""
    if not (request.get("protocol") and request.get("host")):
        return None
    if not all(isinstance(request.get(k), str) for k in ("username", "password")):
        return None
    entry = {k: request[k] for k in STORED_KEYS if isinstance(request.get(k), str)}
    expiry = parse_expiry(request.get("password_expiry_utc"))
    entry.pop("password_expiry_utc", None)
    if expiry is not None:
        if expiry <= now:
            return None
        entry["password_expiry_utc"] = expiry
    if not entry.get("oauth_refresh_token"):
        entry.pop("oauth_refresh_token", None)
    entry["stored_at"] = now
    return entry


def host_prefix(protocol: str, host: str) -> str:
    """The first half of a vault name: lets `get` skip other hosts without decrypting."""
    import hashlib  # storage path only

    return hashlib.sha256(f"{protocol}\0{host}".encode("utf-8", "surrogateescape")).hexdigest()[:16]


def entry_name(entry: dict) -> str:
    """Stable vault name: one entry per (protocol, host, path, username).

    Hashed, so hosts, paths and user names need no escaping and names reveal nothing;
    an absent path and an empty one stay distinct, as git keeps them.
    """
    import hashlib
    import json

    ident = json.dumps([entry.get(k) for k in IDENTITY_KEYS])
    digest = hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"{host_prefix(entry['protocol'], entry['host'])}-{digest}"


def matches(want: dict, entry: dict, match_password: bool = False) -> bool:
    """git's credential_match: every attribute the request names must be equal."""
    keys = IDENTITY_KEYS + (("password",) if match_password else ())
    return all(want.get(k) is None or entry.get(k) == want[k] for k in keys)


def answer_from(want: dict, entries: Iterable[dict], now: int) -> Fields:
    """The reply to `get`: the best matching entry whose password has not expired.

    An entry for exactly the requested path beats a host-wide one, the newest wins ties.
    For an expired entry only its username and `oauth_refresh_token` come back, so an
    OAuth helper after us can refresh; an expired password never does.
    """
    path = want.get("path")
    found = sorted(
        (e for e in entries if matches(want, e)),
        key=lambda e: (e.get("path") == path, e.get("stored_at", 0)),
        reverse=True,
    )
    for e in found:
        expiry = parse_expiry(e.get("password_expiry_utc"))
        if expiry is None or expiry > now:
            fields = [("username", e["username"]), ("password", e["password"])]
            if expiry is not None:
                fields.append(("password_expiry_utc", str(expiry)))
            if e.get("oauth_refresh_token"):
                fields.append(("oauth_refresh_token", e["oauth_refresh_token"]))
            return fields
    for e in found:
        if e.get("oauth_refresh_token"):
            return [("username", e["username"]), ("oauth_refresh_token", e["oauth_refresh_token"])]
    return []


def erasable(want: dict) -> bool:
    """`erase` with nothing to match on would wipe everything: git never asks that."""
    return any(want.get(k) is not None for k in IDENTITY_KEYS)
