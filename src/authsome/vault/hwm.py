"""Per-record high-water marks for a shared vault: refuse a rolled-back or resurrected record.

Every record in a shared vault carries a version bound into its associated data
(crypto.seal_record). This machine remembers, per vault and per record, the lowest
version it may still accept: the newest it has read or written, or one past the
version it deleted. Someone who can write the database can restore an older blob (old
access and refresh tokens) or re-insert a deleted row (a logged-out connection); both
carry a version below the mark and are refused instead of used.

One small JSON file per vault in $AUTHSOME_HOME/vault-hwm/ (0600), keyed by a hash of
the vault's location. Read on every record read (no lock: a stale read only accepts
less); updated under flock only when a mark rises.
"""

from __future__ import annotations

import hashlib
import os

from authsome import paths
from authsome.protocol import jsonlite


def _path(home: str, where: str) -> str:
    digest = hashlib.sha256(where.encode()).hexdigest()[:24]
    return os.path.join(home, "vault-hwm", digest + ".json")


class Marks:
    def __init__(self, home: str, where: str):
        self.home = home
        self.path = _path(home, where)
        self._cache: dict | None = None

    def _load(self) -> dict:
        if self._cache is None:
            try:
                with open(self.path, encoding="utf-8") as f:
                    data = jsonlite.loads(f.read())
                self._cache = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._cache = {}
        return self._cache

    def floor(self, slot: str) -> int:
        value = self._load().get(slot, 0)
        return value if isinstance(value, int) else 0

    def raise_to(self, slot: str, version: int) -> None:
        """Remember that versions below `version` are no longer acceptable for `slot`."""
        if version <= self.floor(slot):
            return
        import fcntl

        paths.ensure_home()
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        fd = paths.open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as f:
                try:
                    data = jsonlite.loads(f.read() or "{}")
                except ValueError:
                    data = {}
                if not isinstance(data, dict):
                    data = {}
                if version > data.get(slot, 0):
                    data[slot] = version
                    f.seek(0)
                    f.truncate()
                    f.write(jsonlite.dumps(data, separators=(",", ":")))
                self._cache = data
        finally:
            os.close(fd)
