"""The audit log: one JSON line per event in $AUTHSOME_HOME/audit.log. Never a secret.

With a shared vault (AUTHSOME_VAULT_URL / vault_url in the config) events go to its
`authsome.audit` table instead, so a team sees every machine's reads; `tail` reads it.
Import-light (the helper's hot path records reads) and best-effort: failing to write
the log never fails the operation it describes (a failed insert falls back to the file).
"""

from __future__ import annotations

import json
import os
import time

from authsome import paths

MAX_BYTES = 8 * 1024 * 1024
SECRET_FIELDS = {"access_token", "refresh_token", "api_key", "client_secret", "code", "password"}


def record(event: str, **fields) -> None:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event}
    entry.update({k: v for k, v in fields.items() if k not in SECRET_FIELDS and v is not None})
    if _to_shared(entry):
        return
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
    try:
        paths.ensure_home()
        fd = paths.open_private(paths.audit_log_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line)
            if os.fstat(fd).st_size > MAX_BYTES:
                # Reads are logged on every git operation: keep one previous file, not all.
                os.replace(paths.audit_log_path(), paths.audit_log_path() + ".1")
        finally:
            os.close(fd)
    except OSError:
        pass


def _to_shared(entry: dict) -> bool:
    """Insert into the shared vault's audit table when one is configured."""
    from authsome.errors import AuthsomeError
    from authsome.vault.backends import shared_backend

    try:
        shared = shared_backend()
        if shared is None:
            return False
        shared.audit(entry)
    except AuthsomeError:
        return False
    return True


def tail(n: int = 20, home: str | None = None) -> list[dict]:
    from authsome.vault.backends import shared_backend

    shared = shared_backend(home)
    if shared is not None:
        return shared.tail(n)
    lines: list[str] = []
    for path in (paths.audit_log_path(home) + ".1", paths.audit_log_path(home)):
        try:
            with open(path, encoding="utf-8") as f:
                lines.extend(f.readlines())
        except FileNotFoundError:
            continue
    out = []
    for line in lines[-n:] if n > 0 else lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
