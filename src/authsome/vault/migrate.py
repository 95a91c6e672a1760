"""Copy a local file vault into a shared vault, all records of every kind, in one transaction.

Records move as sealed blobs: their associated data names only kind and slot, so a blob
opens the same anywhere. If the shared vault has no header yet, the local header goes
with them (the key that opens the local vault opens the shared one). If it already has
one (another machine migrated first), each record is re-sealed under the shared data
key, which this machine's key must open. Every record is decrypted once on the way, so
a tampered or foreign record stops the copy before anything is committed.
"""

from __future__ import annotations

import os

import attrs

from authsome import paths
from authsome.errors import VaultUnavailable
from authsome.vault import crypto
from authsome.vault.files import FileBackend
from authsome.vault.vault import HEADER_KIND, HEADER_NAME, Vault

SKIP_DIRS = {"locks", HEADER_KIND}


@attrs.frozen
class MigrateReport:
    target: str
    copied: dict[str, list[str]]  # kind -> names written
    skipped: dict[str, list[str]]  # kind -> names already in the target (kept)
    header: str  # "copied", "shared" (re-sealed under the target's key) or "none"
    key_source: str

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.copied.values())


def local_kinds(vault_dir: str) -> list[str]:
    """The kinds (subdirectories) a local file vault holds records of."""
    try:
        entries = os.listdir(vault_dir)
    except FileNotFoundError:
        return []
    return sorted(
        e
        for e in entries
        if e not in SKIP_DIRS
        and not e.startswith(".")
        and os.path.isdir(os.path.join(vault_dir, e))
    )


def migrate(home: str, target, overwrite: bool = False) -> MigrateReport:
    """Copy `home`'s local vault into `target` (a PostgresBackend)."""
    local = Vault(home, backend=FileBackend(paths.vault_dir(home)))
    records = {kind: local.names(kind) for kind in local_kinds(paths.vault_dir(home))}
    records = {k: v for k, v in records.items() if v}
    local_header = local.backend.read(HEADER_KIND, HEADER_NAME)
    if local_header is None:
        if records:
            raise VaultUnavailable(
                f"the vault in {paths.vault_dir(home)} has records but no header"
            )
        return MigrateReport(target.where, {}, {}, "none", local.source.name)
    local_key = local.data_key()
    assert local_key is not None
    shared = Vault(home, backend=target)
    copied: dict[str, list[str]] = {}
    skipped: dict[str, list[str]] = {}
    with target.lock(HEADER_KIND, HEADER_NAME), target.transaction():
        if target.read(HEADER_KIND, HEADER_NAME) is None:
            target.write(HEADER_KIND, HEADER_NAME, local_header)
            shared_key, header = local_key, "copied"
        else:
            try:
                shared_key = shared.data_key()
            except VaultUnavailable as exc:
                raise VaultUnavailable(
                    f"the shared vault at {target.where} already has a key header, and this "
                    f"machine's key cannot open it ({exc})"
                ) from None
            header = "copied" if shared_key == local_key else "shared"
        for kind, names in records.items():
            existing = set(target.names(kind))
            for name in names:
                if name in existing and not overwrite:
                    skipped.setdefault(kind, []).append(name)
                    continue
                target.write(kind, name, _reseal(local, local_key, shared_key, kind, name))
                copied.setdefault(kind, []).append(name)
    return MigrateReport(target.where, copied, skipped, header, local.source.name)


def _reseal(local: Vault, local_key: bytes, shared_key: bytes, kind: str, name: str) -> bytes:
    blob = local.backend.read(kind, name)
    assert blob is not None
    try:
        plain, version = crypto.open_record(local_key, blob, kind, name)
    except crypto.DecryptError:
        raise VaultUnavailable(
            f"the local record {kind}/{name} does not decrypt; nothing was copied"
        ) from None
    # Versioned in the shared vault from the start (its records are checked for rollback).
    return crypto.seal_record(shared_key, plain, kind, name, version + 1)
