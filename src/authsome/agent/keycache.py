"""The agent's one piece of warm state besides imports: unwrapped vault data keys.

Unwrapping costs a D-Bus round trip to the keyring (~50 ms) or a scrypt (~100 ms) per
process; the agent does it once per (home, backend, vault header, key source and the
key material in force) and keeps the data key for at most `ttl` seconds after it was
unwrapped, however busy the agent is. Another AUTHSOME_MASTER_KEY or passphrase is
another cache key, so it never opens a vault with someone else's unwrapped key; a
rewritten header (new vault, new key) is another cache key too. The key file is read
every time (no cache): it is cheap, and deleting it must take effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

_SALT = os.urandom(32)  # cache keys are HMACs: no passphrase or env key is kept as such
_cache: dict[bytes, tuple[bytes, float]] = {}
_generation = 0  # counts additions: a process forked earlier lacks what came since


def generation() -> int:
    return _generation


def empty() -> bool:
    return not _cache


def _identity(source) -> bytes | None:
    """What selects the key material of `source`, or None when it is not cached."""
    from authsome.vault import keys

    if isinstance(source, keys.EnvKey):
        return b"env\0" + source.value.encode("utf-8", "surrogateescape")
    if isinstance(source, keys.PassphraseKey):
        return b"passphrase\0" + source.passphrase.encode("utf-8", "surrogateescape")
    if isinstance(source, keys.KeyringKey):
        # The keyring item is per home (in the username); the session bus says whose.
        bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        backend = os.environ.get("PYTHON_KEYRING_BACKEND", "")
        return f"keyring\0{source.username}\0{bus}\0{backend}".encode()
    return None


def cache_key(vault, header: dict) -> bytes | None:
    ident = _identity(vault.source)
    if ident is None:
        return None
    backend = vault.backend
    where = getattr(backend, "where", None) or ""
    parts = [vault.home, type(backend).__name__, str(where), json.dumps(header, sort_keys=True)]
    return hmac.new(_SALT, "\0".join(parts).encode() + b"\0" + ident, hashlib.sha256).digest()


def clear() -> None:
    global _generation
    _cache.clear()
    _generation += 1


def install(ttl: float) -> None:
    """Answer the vault's key unwrapping from memory (in this process only)."""
    from authsome.vault import vault

    def cached_unwrap(v, header: dict, unwrap) -> bytes:
        global _generation
        key = cache_key(v, header)
        now = time.monotonic()
        if key is not None:
            hit = _cache.get(key)
            if hit is not None and hit[1] > now:
                return hit[0]
        data_key = unwrap(header)  # errors are never cached
        if key is not None:
            for stale in [k for k, (_, until) in _cache.items() if until <= now]:
                del _cache[stale]
            _cache[key] = (data_key, now + ttl)
            _generation += 1
        return data_key

    vault.use_unwrap_cache(cached_unwrap)
