"""The audit log: one JSON line per event in $AUTHSOME_HOME/audit.log. Never a secret.

Import-light (the helper's hot path records reads) and best-effort: failing to write
the log never fails the operation it describes.
"""

from __future__ import annotations

import json
import os
import time

from authsome import paths

SECRET_FIELDS = {"access_token", "refresh_token", "api_key", "client_secret", "code", "password"}


def record(event: str, **fields) -> None:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event}
    entry.update({k: v for k, v in fields.items() if k not in SECRET_FIELDS and v is not None})
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
    try:
        paths.ensure_home()
        fd = paths.open_private(paths.audit_log_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def tail(n: int = 20, home: str | None = None) -> list[dict]:
    try:
        with open(paths.audit_log_path(home), encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines[-n:] if n > 0 else lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
