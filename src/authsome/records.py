"""What the vault keeps for a connection, and the import-light helpers to read it.

The record is JSON inside the encryption (format v1). These functions work on the
decoded dict so that the hot path (`fastpath`) and the full service share one
definition of "usable", "status" and the field names, without attrs or cattrs.
"""

from __future__ import annotations

import time

CONNECTIONS = "connections"
CLIENTS = "clients"
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-")
STATUSES = ("connected", "expired", "revoked", "not_connected")


def valid_name(name: object) -> bool:
    """A connection name: 1-64 of [A-Za-z0-9._@-], starting with a letter or digit.

    Checked without `re`, which the shell worker does not otherwise import.
    """
    return (
        isinstance(name, str)
        and 0 < len(name) <= 64
        and name[0].isascii()
        and name[0].isalnum()
        and all(c in NAME_CHARS for c in name)
    )


def slot(provider: str, connection: str) -> str:
    """The vault slot name of a connection."""
    return f"{provider}:{connection}"


def parse_slot(name: str) -> tuple[str, str]:
    provider, _, connection = name.partition(":")
    return provider, connection


def new_record(provider: str, connection: str, auth_type: str, **fields) -> dict:
    now = int(time.time())
    record = {
        "v": 1,
        "provider": provider,
        "connection": connection,
        "auth_type": auth_type,
        "status": "connected",
        "access_token": None,
        "refresh_token": None,
        "token_type": "Bearer",
        "expires_at": None,
        "scopes": [],
        "api_key": None,
        "params": {},
        "extra": {},
        "rejected": False,
        "created_at": now,
        "updated_at": now,
    }
    record.update(fields)
    return record


def secret_of(record: dict) -> str | None:
    return (
        record.get("api_key")
        if record.get("auth_type") == "api_key"
        else record.get("access_token")
    )


def status_of(record: dict, now: float | None = None) -> str:
    """connected / expired / revoked, as `authsome list` shows it."""
    status = record.get("status") or "connected"
    if status != "connected":
        return status
    expires_at = record.get("expires_at")
    now = time.time() if now is None else now
    if expires_at is not None and expires_at <= now and not record.get("refresh_token"):
        return "expired"
    return "connected"


def usable(record: dict, min_ttl: float, now: float | None = None) -> bool:
    """The stored secret can be handed out as it is, valid for at least `min_ttl` seconds."""
    if record.get("status", "connected") != "connected" or record.get("rejected"):
        return False
    if not secret_of(record):
        return False
    expires_at = record.get("expires_at")
    if expires_at is None:
        return True
    return expires_at - (time.time() if now is None else now) >= min_ttl


def rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def relative(epoch: float | None) -> str:
    """`epoch` as people say it: "in 5m", "3h ago", "never"."""
    if epoch is None:
        return "never"
    delta = int(epoch - time.time())
    word = "in " if delta >= 0 else ""
    ago = "" if delta >= 0 else " ago"
    delta = abs(delta)
    if delta < 120:
        span = f"{delta}s"
    elif delta < 7200:
        span = f"{delta // 60}m"
    elif delta < 172800:
        span = f"{delta // 3600}h"
    else:
        span = f"{delta // 86400}d"
    return f"{word}{span}{ago}"


def parse_rfc3339(text: str) -> int:
    """RFC 3339 / ISO 8601 timestamp -> epoch seconds; ValueError if it is not one."""
    from datetime import UTC, datetime  # here: datetime costs ms on the hot path

    value = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())
