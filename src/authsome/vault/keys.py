"""Where the vault key comes from, in the SPEC's order of precedence.

1. AUTHSOME_MASTER_KEY (base64 of 32 bytes), for CI and containers;
2. AUTHSOME_PASSPHRASE, stretched with scrypt and a per-vault salt;
3. the OS keyring (service `authsome`), a random key created on first use;
4. a key file `$AUTHSOME_HOME/master.key` (0600), only when no keyring backend works.

The `keyring` package is imported only when the first two are absent: it costs more
than the rest of the helper's hot path together.
"""

from __future__ import annotations

import binascii
import os
import sys

from authsome import paths
from authsome.errors import VaultUnavailable
from authsome.vault.crypto import b64decode, b64encode

KEYRING_SERVICE = "authsome"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
# The scrypt costs a vault header may name. The header is not authenticated before the
# key is derived, and a shared vault's header is writable by anyone with the database
# role: `p=400` made every `get` take 25 s. Only these (at most 64 MiB, well under 1 s).
ACCEPTED_SCRYPT = {(2**14, 8, 1), (2**15, 8, 1), (2**16, 8, 1)}
KEY_FILE = "master.key"


def keyring_username(home: str) -> str:
    # One key per home, so two homes on one machine are two independent vaults.
    return f"master-key:{home}"


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise VaultUnavailable(f"{where} must be the base64 encoding of 32 random bytes")
    return key


def check_kdf(kdf: object) -> tuple[bytes, dict] | None:
    """(salt, params) of a header's `kdf` field, None when absent; ValueError naming the
    field when it is malformed or asks for costs outside ACCEPTED_SCRYPT."""
    if kdf is None:
        return None
    if not isinstance(kdf, dict):
        raise ValueError("kdf is not an object")
    if kdf.get("name", "scrypt") != "scrypt":
        raise ValueError("kdf.name is not scrypt")
    salt_text = kdf.get("salt")
    try:
        salt = b64decode(salt_text, validate=True) if isinstance(salt_text, str) else b""
    except (binascii.Error, ValueError):
        salt = b""
    if not 16 <= len(salt) <= 64:
        raise ValueError("kdf.salt is not 16-64 bytes of base64")
    params = {k: kdf.get(k) for k in ("n", "r", "p")}
    if any(type(v) is not int for v in params.values()):
        raise ValueError("kdf.n, kdf.r and kdf.p must be integers")
    if (params["n"], params["r"], params["p"]) not in ACCEPTED_SCRYPT:
        raise ValueError("kdf parameters outside the accepted scrypt costs")
    return salt, params


def passphrase_key(passphrase: str, salt: bytes, params: dict | None = None) -> bytes:
    import hashlib

    p = params or SCRYPT
    return hashlib.scrypt(
        # the environment's bytes as they are: a passphrase that is not UTF-8 (undecodable
        # bytes arrive as surrogates) is still one, and the same one each time
        os.fsencode(passphrase),
        salt=salt,
        n=p["n"],
        r=p["r"],
        p=p["p"],
        maxmem=128 * 1024 * 1024,
        dklen=32,
    )


class KeySource:
    """One resolved key source. `load` returns the key or None; `create` makes a new one."""

    name: str = ""

    def load(self) -> bytes | None:
        raise NotImplementedError

    def create(self) -> bytes:
        raise NotImplementedError


class EnvKey(KeySource):
    name = "AUTHSOME_MASTER_KEY"

    def __init__(self, value: str):
        self.value = value

    def load(self) -> bytes:
        return _decode_key(self.value, "AUTHSOME_MASTER_KEY")

    create = load


class PassphraseKey(KeySource):
    """The salt lives in the vault's key header; the vault passes it in."""

    name = "AUTHSOME_PASSPHRASE"

    def __init__(self, passphrase: str):
        if not passphrase:
            raise VaultUnavailable("AUTHSOME_PASSPHRASE is set but empty")
        self.passphrase = passphrase

    def derive(self, salt: bytes, params: dict | None = None) -> bytes:
        return passphrase_key(self.passphrase, salt, params)


class KeyringKey(KeySource):
    name = "keyring"

    def __init__(self, home: str):
        self.home = home
        self.username = keyring_username(home)

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # keyring backends raise many types; all mean "unavailable"
            kind = type(exc).__name__
            if "Locked" in kind:
                raise VaultUnavailable(
                    "the OS keyring is locked: unlock it (or set AUTHSOME_MASTER_KEY / "
                    "AUTHSOME_PASSPHRASE)"
                ) from None
            raise VaultUnavailable(
                f"the OS keyring failed ({kind}); see `authsome doctor`"
            ) from None

    def load(self) -> bytes | None:
        value = _secret_service_lookup(KEYRING_SERVICE, self.username)
        if value is None:
            import keyring

            value = self._call(keyring.get_password, KEYRING_SERVICE, self.username)
        return None if value is None else _decode_key(value, "the keyring's authsome key")

    def create(self) -> bytes:
        import keyring

        key = os.urandom(32)
        self._call(keyring.set_password, KEYRING_SERVICE, self.username, b64encode(key))
        return key

    def delete(self) -> None:
        import keyring

        self._call(keyring.delete_password, KEYRING_SERVICE, self.username)


def _secret_service_lookup(service: str, username: str) -> str | None:
    """Read the item keyring's SecretService backend wrote, straight through secretstorage.

    `import keyring` discovers every backend through entry points (~90 ms on a slow
    machine); this hot-path shortcut costs a fraction of that. Any doubt -- another
    platform, a configured backend, a locked or absent item -- returns None and the
    caller asks `keyring` itself, which stays the authority.
    """
    if not sys.platform.startswith("linux") or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None
    try:
        import secretstorage

        with secretstorage.dbus_init() as connection:
            for item in secretstorage.search_items(
                connection, {"service": service, "username": username}
            ):
                if item.is_locked():
                    return None
                return item.get_secret().decode("utf-8")
    except Exception:  # noqa: S110 -- any failure defers to keyring, which reports it
        pass
    return None


class FileKey(KeySource):
    name = "key file"

    def __init__(self, home: str):
        self.path = os.path.join(home, KEY_FILE)

    def load(self) -> bytes | None:
        try:
            raw = paths.read_regular(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory or a FIFO in its place, not ours to read
            why = exc.strerror or exc
            raise VaultUnavailable(f"cannot read the key file {self.path}: {why}") from None
        return _decode_key(raw.decode("ascii", "replace"), self.path)

    def create(self) -> bytes:
        key = os.urandom(32)
        paths.ensure_home()
        fd = paths.open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "w") as f:
            f.write(b64encode(key) + "\n")
            f.flush()
            os.fsync(f.fileno())
        print(
            f"authsome: warning: no OS keyring backend works; the vault key is kept in {self.path} "
            "(see `authsome doctor`)",
            file=sys.stderr,
        )
        return key


def keyring_works() -> tuple[bool, str]:
    """Whether a real keyring backend is available, and its name (for doctor and fallback)."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:
        return False, f"error: {type(exc).__name__}"
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring):
        return False, name
    if "chainer" in name.lower() and not getattr(backend, "backends", None):
        return False, name
    return True, name


def select_source(home: str, made_with: str | None = None) -> KeySource:
    """The key source in force for `home`, by the SPEC's precedence.

    `made_with` is the source named in an existing vault's header: a vault made with
    the keyring goes straight to it, without probing backends on the hot path.
    """
    env = os.environ.get("AUTHSOME_MASTER_KEY")
    if env:
        return EnvKey(env)
    passphrase = os.environ.get("AUTHSOME_PASSPHRASE")
    if passphrase is not None:
        return PassphraseKey(passphrase)
    file_key = FileKey(home)
    if os.path.exists(file_key.path):
        return file_key
    if made_with == KeyringKey.name:
        return KeyringKey(home)
    ok, _ = keyring_works()
    return KeyringKey(home) if ok else file_key
