"""Where authsome keeps its files, and the permissions it keeps them at.

Import-light: used on the helper's hot path.
"""

from __future__ import annotations

import os
import stat

DIR_MODE = 0o700
FILE_MODE = 0o600


def home() -> str:
    """The authsome home: $AUTHSOME_HOME, else ~/.authsome (absolute, not created)."""
    path = os.environ.get("AUTHSOME_HOME") or os.path.join(os.path.expanduser("~"), ".authsome")
    return os.path.abspath(path)


def ensure_dir(path: str) -> str:
    """Create `path` at 0700 (new parents too); tighten it if it exists looser."""
    if not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent and parent != path and not os.path.isdir(parent):
            ensure_dir(parent)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            pass
    st = os.stat(path)
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def ensure_home() -> str:
    """The home, with its `providers/` folder: `authsome inspect NAME >
    ~/.authsome/providers/NAME.json` needs the folder before authsome runs."""
    base = ensure_dir(home())
    if not os.path.isdir(providers_dir(base)):
        try:
            os.mkdir(providers_dir(base), DIR_MODE)
        except FileExistsError:
            pass
    return base


def providers_dir(base: str | None = None) -> str:
    return os.path.join(base or home(), "providers")


def vault_dir(base: str | None = None) -> str:
    return os.path.join(base or home(), "vault")


def audit_log_path(base: str | None = None) -> str:
    return os.path.join(base or home(), "audit.log")


def open_private(path: str, flags: int) -> int:
    """os.open with 0600 and O_NOFOLLOW so a planted symlink cannot redirect a write."""
    return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), FILE_MODE)


def read_regular(path: str) -> bytes:
    """The bytes of a regular file. Anything else in its place is an OSError at once
    (a FIFO would block the open or the read forever; a directory opens fine)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", path)
        if not stat.S_ISREG(mode):
            raise OSError(22, "not a regular file", path)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_new(path: str, parts: list[bytes], mode: int = FILE_MODE) -> None:
    """A new file (never an existing one, never through a symlink) holding `parts`,
    written as they are: no joined copy of a large part."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        view = [memoryview(p) for p in parts if p]
        while view:
            n = os.writev(fd, view)
            while view and n >= len(view[0]):
                n -= len(view[0])
                view.pop(0)
            if n:
                view[0] = view[0][n:]
    finally:
        os.close(fd)
