"""The audit log: one JSON line per event in $AUTHSOME_HOME/audit.log. Never a secret.

With a shared vault (AUTHSOME_VAULT_URL / vault_url in the config) events go to its
`authsome.audit` table instead, so a team sees every machine's reads; `tail` reads it.
Import-light (the helper's hot path records reads) and best-effort: failing to write
the log never fails the operation it describes (a failed insert falls back to the file).
"""

from __future__ import annotations

import os
import stat
import time

from authsome import paths
from authsome.protocol import jsonlite

MAX_BYTES = 8 * 1024 * 1024
SECRET_FIELDS = {"access_token", "refresh_token", "api_key", "client_secret", "code", "password"}


def _entry(event: str, fields: dict, when: float | None = None) -> dict:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)), "event": event}
    entry.update({k: v for k, v in fields.items() if k not in SECRET_FIELDS and v is not None})
    return entry


def record(event: str, **fields) -> None:
    _write([_entry(event, fields)])


def _write(entries: list[dict]) -> None:
    shared = _shared()  # once per batch: it reads the config file
    if shared is not None:
        entries = [e for e in entries if not _to_shared(shared, e)]
    if not entries:
        return
    data = "".join(jsonlite.dumps(e, separators=(",", ":")) + "\n" for e in entries).encode()
    try:
        paths.ensure_home()
        # O_NONBLOCK: a FIFO in the log's place would block the open (every get) forever
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
        fd = paths.open_private(paths.audit_log_path(), flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return  # nothing of ours to append to (closed below)
            os.write(fd, data)
            if os.fstat(fd).st_size > MAX_BYTES:
                # Reads are logged on every git operation: keep one previous file, not all.
                os.replace(paths.audit_log_path(), paths.audit_log_path() + ".1")
        finally:
            os.close(fd)
    except OSError:
        pass


class Batcher:
    """Audit events from a busy loop (the proxy), written in batches on one thread.

    Calling it only appends to a list (the entries are formatted on the writing thread,
    off the proxy's); a background thread, started by the first event (a run that logs
    nothing, like `authsome run -- true`, waits for no thread to start), writes what
    piled up every `interval` seconds in one write, and `close` writes the rest before
    returning.
    """

    def __init__(self, interval: float = 0.2):
        import threading

        self._interval = interval
        self._pending: list[tuple[str, dict, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, event: str, **fields) -> None:
        entry = (event, fields, time.time())
        with self._lock:
            self._pending.append(entry)
            if self._thread is None:
                import threading

                self._thread = threading.Thread(
                    target=self._run, name="authsome-audit", daemon=True
                )
                self._thread.start()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            _write([_entry(*pending) for pending in batch])

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()
        self._flush()


def _shared():
    """The shared vault's backend when one is configured, else None."""
    from authsome.errors import AuthsomeError
    from authsome.vault.backends import shared_backend

    try:
        return shared_backend()
    except AuthsomeError:
        return None


def _to_shared(shared, entry: dict) -> bool:
    """Insert into the shared vault's audit table; False if that failed."""
    from authsome.errors import AuthsomeError

    try:
        shared.audit(entry)
    except AuthsomeError:
        return False
    return True


def tail(
    n: int = 20,
    home: str | None = None,
    provider: str | None = None,
    since: float | None = None,
) -> list[dict]:
    """The last `n` events (all if n <= 0), oldest first; only `provider`'s and only those
    at or after `since` (epoch seconds) when given. A shared vault filters in SQL."""
    from authsome.vault.backends import shared_backend

    shared = shared_backend(home)
    if shared is not None:
        return shared.tail(n, provider=provider, since=since)
    lines: list[str] = []
    for path in (paths.audit_log_path(home) + ".1", paths.audit_log_path(home)):
        try:
            lines.extend(paths.read_regular(path).decode("utf-8", "replace").splitlines(True))
        except FileNotFoundError:
            continue
        except OSError as exc:  # something in its place: one line, not a traceback
            from authsome.errors import AuthsomeError

            raise AuthsomeError(
                f"cannot read the audit log {path}: {exc.strerror or exc}"
            ) from None
    out = []
    for line in reversed(lines):  # newest first: stop once n match
        if 0 < n <= len(out):
            break
        try:
            entry = jsonlite.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not _wanted(entry, provider, since):
            continue
        out.append(entry)
    out.reverse()
    return out


def _wanted(entry: dict, provider: str | None, since: float | None) -> bool:
    if provider is not None and entry.get("provider") != provider:
        return False
    if since is not None:
        from authsome.records import parse_rfc3339

        try:
            return parse_rfc3339(entry.get("time", "")) >= since
        except (TypeError, ValueError):
            return False
    return True
