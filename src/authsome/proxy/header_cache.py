"""The proxy's token source: `CredentialService.get` behind a small in-memory cache.

The service decrypts the vault (and refreshes under the connection lock) on every
call; the proxy asks once per request, so it keeps each header until shortly before
the token's expiry and calls the service only then. Called from the proxy's
connection threads.
"""

from __future__ import annotations

import threading
import time

MIN_TTL = 120  # a token handed to a request stays valid for at least this long
RECHECK = 300  # a token without expiry (API key) is re-read this often (rotation)
FORCED_GRACE = 5.0  # a forced refresh this recent also answers the next 401


class _Entry:
    # A plain class: `authsome run` imports this module before the proxy starts.
    __slots__ = ("fetched_at", "forced", "fresh_until", "name", "value")

    def __init__(self, name: str, value: str, fresh_until: float, fetched_at: float, forced: bool):
        self.name, self.value = name, value
        self.fresh_until, self.fetched_at, self.forced = fresh_until, fetched_at, forced


class ServiceHeaders:
    """`source(provider, connection, force_refresh) -> (header name, value)`; the name is
    QUERY_MARK + a parameter for a key that goes in the query (authheader.injection)."""

    def __init__(self, service=None, min_ttl: int = MIN_TTL) -> None:
        self._service = service  # None: a CredentialService, made on first use
        self._min_ttl = min_ttl
        self._cache: dict[tuple[str, str], _Entry] = {}
        # One service call at a time: refreshes are rare, and the service's vault
        # handle is then never used by two threads at once.
        self._lock = threading.Lock()

    def __call__(self, provider: str, connection: str, force_refresh: bool) -> tuple[str, str]:
        key = (provider, connection)
        hit = self._cache.get(key)
        if hit is not None and not force_refresh and time.monotonic() < hit.fresh_until:
            return hit.name, hit.value
        with self._lock:
            hit = self._cache.get(key)
            now = time.monotonic()
            if hit is not None:
                if not force_refresh and now < hit.fresh_until:
                    return hit.name, hit.value
                if force_refresh and hit.forced and now - hit.fetched_at < FORCED_GRACE:
                    return hit.name, hit.value  # several 401s at once: one refresh
            cred = self._get(
                provider, connection, min_ttl=self._min_ttl, force_refresh=force_refresh
            )
            name, value = cred.injection
            left = cred.expires_in
            ttl = RECHECK if left is None else min(RECHECK, max(0, left - self._min_ttl))
            self._cache[key] = _Entry(name, value, now + ttl, now, force_refresh)
            return name, value

    def note_step_up(self, provider: str, connection: str, scopes: list[str]) -> None:
        """Keep a 403 insufficient_scope hint with the connection (proxy/stepup.py)."""
        with self._lock:
            self._service_now().note_step_up(provider, connection, scopes)

    def _service_now(self):
        if self._service is None:
            from authsome.credentials import CredentialService
            from authsome.entrypoints import warn

            # As before: on `run`'s stderr, the terminal it shares with the child.
            self._service = CredentialService(warn=warn)
        return self._service

    def _get(self, provider: str, connection: str, **kwargs):
        return self._service_now().get(provider, connection, **kwargs)
