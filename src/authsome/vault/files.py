"""The local file backend: one encrypted blob per record, atomic writes, flock-based locks.

Interface shared with other backends (docker-credential-helpers style: a tiny set of
verbs): read, write, delete, names, lock. Blobs are opaque here; encryption is above.
"""

from __future__ import annotations

import os

from authsome import paths

SUFFIX = ".rec"


SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def _filename(name: str) -> str:
    """Percent-encode a record name into one safe file name (urllib.parse costs ms here)."""
    encoded = "".join(c if c in SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in name)
    # Never produce '.', '..' or a hidden file from a name.
    return ("%2E" + encoded[1:] if encoded.startswith(".") else encoded) + SUFFIX


def _unquote(encoded: str) -> str:
    """The inverse of `_filename`'s percent-encoding (a stray '%' stays as it is)."""
    if "%" not in encoded:
        return encoded
    out = bytearray()
    i = 0
    while i < len(encoded):
        if encoded[i] == "%":
            try:
                out += bytes.fromhex(encoded[i + 1 : i + 3])
                i += 3
                continue
            except ValueError:
                pass
        out += encoded[i].encode()
        i += 1
    return out.decode("utf-8", "replace")


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename over, fsync the directory."""
    import tempfile

    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)


STALE_TEMP_SECONDS = 600


def _sweep_temp_files(directory: str) -> None:
    """Remove temp files left by writers killed mid-write (never read, only clutter).

    Old ones only: a younger one may belong to a write in progress in another process.
    """
    import time

    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        for entry in os.scandir(directory):
            if entry.name.startswith(".tmp-") and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
    except OSError:
        pass


class FileBackend:
    def __init__(self, root: str):
        self.root = root

    def _dir(self, kind: str) -> str:
        return os.path.join(self.root, kind)

    def _path(self, kind: str, name: str) -> str:
        return os.path.join(self._dir(kind), _filename(name))

    def read(self, kind: str, name: str) -> bytes | None:
        path = self._path(kind, name)
        try:
            return paths.read_regular(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            # Something in the way (a directory, no permission, an I/O error): this record
            # cannot be read, said in one line (exit 6); the others still can be.
            from authsome.vault.vault import RecordUnreadable

            raise RecordUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None

    def write(self, kind: str, name: str, blob: bytes) -> None:
        path = self._path(kind, name)
        try:
            paths.ensure_dir(self._dir(kind))
            atomic_write(path, blob)
        except OSError as exc:
            # A full disk, a read-only mount, something in the way: the vault cannot take
            # the record (exit 6), said in one line rather than as an internal error.
            raise _unavailable("cannot write", path, exc) from None
        _sweep_temp_files(self._dir(kind))

    def delete(self, kind: str, name: str) -> bool:
        path = self._path(kind, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:  # a directory in its place, a read-only mount
            raise _unavailable("cannot delete", path, exc) from None
        fsync_dir(self._dir(kind))
        return True

    def names(self, kind: str) -> list[str]:
        try:
            entries = os.listdir(self._dir(kind))
        except FileNotFoundError:
            return []
        except OSError as exc:  # the home or vault is not a directory, or not ours to read
            raise _unavailable("cannot list", self._dir(kind), exc) from None
        return sorted(
            _unquote(e[: -len(SUFFIX)])
            for e in entries
            if e.endswith(SUFFIX) and not e.startswith(".tmp-")
        )

    def lock(self, kind: str, name: str) -> FileLock:
        """An exclusive lock on a separate lock file that is never replaced."""
        lock_dir = os.path.join(self.root, "locks", kind)
        try:
            paths.ensure_dir(lock_dir)
        except OSError as exc:  # a file (or a symlink loop) where the lock folder goes
            raise _unavailable("cannot make the lock folder", lock_dir, exc) from None
        return FileLock(os.path.join(lock_dir, _filename(name) + ".lock"))


def _unavailable(doing: str, path: str, exc: OSError) -> Exception:
    """The vault cannot be used because of what is on disk: one line naming the file
    (exit 6), not an internal error."""
    from authsome.errors import VaultUnavailable

    return VaultUnavailable(f"{doing} {path}: {exc.strerror or exc}")


class FileLock:
    """flock on a lock file; a killed holder releases it with its file descriptors."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> FileLock:
        import fcntl

        try:
            fd = paths.open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:  # a directory or a symlink where the lock file goes
            raise _unavailable("cannot open the lock file", self.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None
