"""A connection's status as `authsome get` and `doctor` report it: a token past expiry is
never `connected`. Its refresh is tried: `connected` again when it works, else `expired`
with the reason (refused, or the provider unreachable)."""

from __future__ import annotations

import time

from authsome.errors import AuthsomeError
from authsome.records import status_of


def current_status(service, record: dict) -> tuple[str, dict, str | None]:
    """(status, the record as it now is, why it is expired or None)."""
    status = status_of(record)
    expires_at = record.get("expires_at")
    if status != "connected" or expires_at is None or expires_at > time.time():
        return status, record, None
    try:
        credential = service.get(record["provider"], record["connection"], min_ttl=0)
    except AuthsomeError as exc:
        return "expired", record, str(exc)
    return status_of(credential.record), credential.record, None
