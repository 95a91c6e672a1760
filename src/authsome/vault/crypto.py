"""Envelope encryption: AES-256-GCM with a random 96-bit nonce and bound associated data.

A record's associated data names its kind and slot, so a record copied onto another
connection's slot fails to decrypt instead of being read as that connection.
"""

from __future__ import annotations

import binascii
import os

try:
    # The public module drags in `typing` and cryptography.exceptions (~15 ms on a slow
    # machine) for one class; the helper's hot path takes the binding it re-exports.
    from cryptography.hazmat.bindings._rust import openssl as _openssl

    AESGCM = _openssl.aead.AESGCM
except (ImportError, AttributeError):  # a cryptography that moved it
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ASV1"
NONCE_LEN = 12
KEY_LEN = 32
DATA_KEY_AAD = b"authsome-datakey-v1"


class DecryptError(Exception):
    """The blob is not ours, was tampered with, sits in the wrong slot, or the key is wrong."""


def record_aad(kind: str, name: str) -> bytes:
    return b"authsome-record-v1\x00" + kind.encode() + b"\x00" + name.encode()


MAGIC_VERSIONED = b"ASV2"  # + 8-byte version (in the associated data) + nonce + sealed


def _versioned_aad(kind: str, name: str, version: int) -> bytes:
    return record_aad(kind, name) + b"\x00v" + version.to_bytes(8, "big")


def seal_record(key: bytes, plaintext: bytes, kind: str, name: str, version: int) -> bytes:
    """A record bound to its slot and to a version (rollback detection: see vault.hwm)."""
    nonce = os.urandom(NONCE_LEN)
    sealed = AESGCM(key).encrypt(nonce, plaintext, _versioned_aad(kind, name, version))
    return MAGIC_VERSIONED + version.to_bytes(8, "big") + nonce + sealed


def record_version(blob: bytes) -> int:
    """The version a blob claims (unauthenticated: only to pick the next one); 0 for ASV1."""
    return int.from_bytes(blob[4:12], "big") if blob.startswith(MAGIC_VERSIONED) else 0


def open_record(key: bytes, blob: bytes, kind: str, name: str) -> tuple[bytes, int]:
    """(plaintext, version) of a record; an ASV1 record (before versions) is version 0."""
    if not blob.startswith(MAGIC_VERSIONED):
        return unseal(key, blob, record_aad(kind, name)), 0
    if len(blob) < 12:
        raise DecryptError("not an authsome vault record")
    version = int.from_bytes(blob[4:12], "big")
    return unseal(key, MAGIC + blob[12:], _versioned_aad(kind, name, version)), version


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_LEN)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < len(MAGIC) + NONCE_LEN + 16 or not blob.startswith(MAGIC):
        raise DecryptError("not an authsome vault record")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_LEN]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_LEN :], aad)
    except Exception as exc:
        # cryptography.exceptions.InvalidTag, matched by name to keep its import off the hot path
        if type(exc).__name__ != "InvalidTag":
            raise
        raise DecryptError("record does not decrypt with this key in this slot") from None


def b64encode(data: bytes) -> str:
    """base64.b64encode(data).decode(), without importing `base64` (which imports `re`)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: str | bytes, validate: bool = False) -> bytes:
    """base64.b64decode(text, validate=validate): the same binascii call, the same errors
    (ValueError for a non-ASCII str, binascii.Error, a ValueError, for bad base64)."""
    if isinstance(text, str):
        text = text.encode("ascii")
    return binascii.a2b_base64(text, strict_mode=validate)


def new_key() -> bytes:
    return os.urandom(KEY_LEN)
