"""The vault: encrypted JSON records over a storage backend.

A random data key encrypts every record; the key from `keys.select_source` wraps the
data key in the vault's header. Reading never creates anything: a vault that does not
exist yet simply has no records (and needs no key).
"""

from __future__ import annotations

import os

from authsome import paths
from authsome.errors import VaultUnavailable
from authsome.protocol import jsonlite
from authsome.vault import crypto, keys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the hot path

if TYPE_CHECKING:
    from typing import Any

_unwrap_cache = None  # see use_unwrap_cache


def use_unwrap_cache(cache: Any | None) -> None:
    """Register this process's data-key cache, or remove it (None).

    `cache(vault, header, unwrap) -> data key` may answer from memory instead of calling
    `unwrap(header)`. Only the warm agent registers one (`agent.keycache.install`), in its
    own process; every other process unwraps each time.
    """
    global _unwrap_cache
    _unwrap_cache = cache


class RecordUnreadable(VaultUnavailable):
    """One record does not open (the vault itself does): others may be read."""


HEADER_KIND = "meta"
HEADER_NAME = "header"


def _b64(data: bytes) -> str:
    return crypto.b64encode(data)


class Vault:
    def __init__(self, home: str | None = None, backend: Any | None = None):
        self.home = home or paths.home()
        if backend is None:
            # AUTHSOME_VAULT_URL or the home's config picks a shared PostgreSQL vault.
            from authsome.vault.backends import open_backend

            backend = open_backend(self.home)
        self.backend = backend
        self._data_key: bytes | None = None
        self._source: keys.KeySource | None = None
        self._header_cache: dict | None = None
        self._marks = None
        if getattr(backend, "rollback_marks", False):
            from authsome.vault.hwm import Marks

            self._marks = Marks(self.home, backend.where)

    # -- keys ---------------------------------------------------------------------------
    @property
    def source(self) -> keys.KeySource:
        if self._source is None:
            header = self._header()
            self._source = keys.select_source(self.home, header.get("source") if header else None)
        return self._source

    def _header(self) -> dict | None:
        if self._header_cache is not None:
            return self._header_cache
        raw = self.backend.read(HEADER_KIND, HEADER_NAME)
        if raw is None:
            return None
        where = getattr(self.backend, "where", None) or paths.vault_dir(self.home)
        try:
            header = jsonlite.loads(raw)
            if not isinstance(header, dict) or not isinstance(header.get("source", ""), str):
                raise ValueError("not an object")
            crypto.b64decode(header["wrapped_key"], validate=True)
        except (ValueError, KeyError, TypeError):
            raise VaultUnavailable(f"the vault header in {where} is corrupt")
        try:
            keys.check_kdf(header.get("kdf"))
        except ValueError as exc:
            raise VaultUnavailable(f"the vault header in {where} is corrupt: {exc}") from None
        self._header_cache = header
        return header

    def _wrapping_key(self, header: dict | None, create: bool) -> bytes | None:
        source = self.source
        if isinstance(source, keys.PassphraseKey):
            checked = keys.check_kdf((header or {}).get("kdf"))  # _header checked it
            if checked is not None:
                salt, params = checked
            else:
                salt, params = os.urandom(16), dict(keys.SCRYPT)
                self._pending_kdf = {"name": "scrypt", "salt": _b64(salt), **params}
            return source.derive(salt, params)
        key = source.load()
        if key is None and create:
            key = source.create()
        return key

    def _unwrap(self, header: dict) -> bytes:
        key = self._wrapping_key(header, create=False)
        if key is None:
            made = header.get("source", "another key source")
            raise VaultUnavailable(
                f"no vault key in the {self.source.name}: this vault was made with {made}"
                + (" (set it in the environment)" if made.startswith("AUTHSOME_") else "")
            )
        try:
            return crypto.unseal(key, crypto.b64decode(header["wrapped_key"]), crypto.DATA_KEY_AAD)
        except crypto.DecryptError:
            made = header.get("source", "another key")
            raise VaultUnavailable(
                f"the key from {self.source.name} does not open this vault "
                f"(it was made with {made})"
            ) from None

    def data_key(self, create: bool = False) -> bytes | None:
        if self._data_key is not None:
            return self._data_key
        header = self._header()
        if header is None:
            if not create:
                return None
            with self.backend.lock(HEADER_KIND, HEADER_NAME):
                header = self._header()  # another process may have made it meanwhile
                if header is None:
                    self._data_key = self._create_header()
                    return self._data_key
        if _unwrap_cache is not None:
            self._data_key = _unwrap_cache(self, header, self._unwrap)
        else:
            self._data_key = self._unwrap(header)
        return self._data_key

    def _create_header(self) -> bytes:
        self._pending_kdf = None
        wrapping = self._wrapping_key(None, create=True)
        assert wrapping is not None
        data_key = crypto.new_key()
        header = {
            "version": 1,
            "source": self.source.name,
            "wrapped_key": _b64(crypto.seal(wrapping, data_key, crypto.DATA_KEY_AAD)),
        }
        if self._pending_kdf:
            header["kdf"] = self._pending_kdf
        self.backend.write(HEADER_KIND, HEADER_NAME, jsonlite.dumps(header).encode())
        return data_key

    # -- records ------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> dict | None:
        blob = self.backend.read(kind, name)
        if blob is None:
            return None
        key = self.data_key()
        if key is None:
            raise VaultUnavailable("the vault has records but no header; it cannot be opened")
        try:
            plain, version = crypto.open_record(key, blob, kind, name)
            record = jsonlite.loads(plain)
        except (crypto.DecryptError, ValueError):
            raise RecordUnreadable(
                f"the record {kind}/{name} does not decrypt (tampered, or moved from another slot)"
            ) from None
        if self._marks is not None:
            floor = self._marks.floor(f"{kind}/{name}")
            if version < floor:
                raise RecordUnreadable(
                    f"the record {kind}/{name} is older than one this machine has seen "
                    f"(version {version}, expected {floor} or later): the shared vault was "
                    "rolled back or the record restored; it is not used"
                )
            self._marks.raise_to(f"{kind}/{name}", version)
        return record

    def open_for_writing(self) -> bytes:
        """The data key a write uses: unwrapped, or made with a new vault's header.
        VaultUnavailable when the key in force does not open the vault."""
        _ensure_home()
        key = self.data_key(create=True)
        assert key is not None
        return key

    def put(self, kind: str, name: str, record: dict) -> None:
        key = self.open_for_writing()
        data = jsonlite.dumps(record, separators=(",", ":")).encode()
        if self._marks is None:
            self.backend.write(kind, name, crypto.seal(key, data, crypto.record_aad(kind, name)))
            return
        # The next version after any this machine knows of and the one stored now.
        current = self.backend.read(kind, name)
        seen = crypto.record_version(current) if current is not None else 0
        version = max(seen, self._marks.floor(f"{kind}/{name}")) + 1
        self.backend.write(kind, name, crypto.seal_record(key, data, kind, name, version))
        self._marks.raise_to(f"{kind}/{name}", version)

    def delete(self, kind: str, name: str) -> bool:
        if self._marks is not None:
            # A deleted record that comes back (re-inserted as it was) is refused.
            current = self.backend.read(kind, name)
            if current is not None:
                self._marks.raise_to(f"{kind}/{name}", crypto.record_version(current) + 1)
        return self.backend.delete(kind, name)

    def names(self, kind: str) -> list[str]:
        return self.backend.names(kind)

    def lock(self, kind: str, name: str):
        """An exclusive lock on one record, across processes (a context manager)."""
        _ensure_home()
        return self.backend.lock(kind, name)


def _ensure_home() -> None:
    """The home before a write: one we cannot make or fill (a parent or the home itself
    not ours to write) is the vault unavailable (exit 6), not an internal error."""
    try:
        paths.ensure_home()
    except OSError as exc:
        where = exc.filename or paths.home()
        raise VaultUnavailable(f"cannot set up the home: {where}: {exc.strerror or exc}") from None
