"""Approval of project files by content, like `direnv allow`.

`allow` records sha256(real path, content) as an empty-ish file under
$AUTHSOME_HOME/allow/: any edit changes the hash, so the file is blocked again.
`deny` records sha256(real path) under $AUTHSOME_HOME/deny/: a denied file stays
blocked whatever its content until it is allowed again. The entries hold the path
(for people reading the directory), never a secret. Presence is all that matters,
which the shell hook checks with a builtin `[[ -e ]]` on every prompt.
"""

from __future__ import annotations

import hashlib
import os

from authsome import paths

ALLOWED = "allowed"
DENIED = "denied"
UNAPPROVED = "unapproved"


def _bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def allow_dir(home: str | None = None) -> str:
    return os.path.join(home or paths.home(), "allow")


def deny_dir(home: str | None = None) -> str:
    return os.path.join(home or paths.home(), "deny")


def content_key(real_path: str, content: bytes) -> str:
    return hashlib.sha256(b"authsome-allow\0" + _bytes(real_path) + b"\0" + content).hexdigest()


def path_key(real_path: str) -> str:
    return hashlib.sha256(b"authsome-deny\0" + _bytes(real_path)).hexdigest()


class Approval:
    """Where a file's approval lives, and what it says now."""

    __slots__ = ("allow_entry", "deny_entry", "real_path", "state")

    def __init__(self, real_path: str, content: bytes, home: str | None = None):
        self.real_path = real_path
        self.allow_entry = os.path.join(allow_dir(home), content_key(real_path, content))
        self.deny_entry = os.path.join(deny_dir(home), path_key(real_path))
        if os.path.lexists(self.deny_entry):
            self.state = DENIED
        elif os.path.lexists(self.allow_entry):
            self.state = ALLOWED
        else:
            self.state = UNAPPROVED


def check(path: str, content: bytes, home: str | None = None) -> Approval:
    """The approval of `content` read from `path` (resolved: symlinked trees agree)."""
    return Approval(os.path.realpath(path), content, home)


def _write_entry(entry: str, real_path: str) -> None:
    paths.ensure_dir(os.path.dirname(entry))
    fd = paths.open_private(entry, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, _bytes(real_path) + b"\n")
    finally:
        os.close(fd)


def _remove(entry: str) -> None:
    try:
        os.unlink(entry)
    except FileNotFoundError:
        pass


def allow(path: str, content: bytes, home: str | None = None) -> Approval:
    """Approve this exact content of `path`; lifts a deny."""
    paths.ensure_dir(home or paths.home())
    approval = check(path, content, home)
    _write_entry(approval.allow_entry, approval.real_path)
    _remove(approval.deny_entry)
    approval.state = ALLOWED
    return approval


def deny(path: str, content: bytes, home: str | None = None) -> Approval:
    """Block `path` whatever its content, until it is allowed again."""
    paths.ensure_dir(home or paths.home())
    approval = check(path, content, home)
    _write_entry(approval.deny_entry, approval.real_path)
    _remove(approval.allow_entry)
    approval.state = DENIED
    return approval
