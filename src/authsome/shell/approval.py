"""Approval of project files by content, like `direnv allow`.

`allow` records sha256(path where found, content) as a file under $AUTHSOME_HOME/allow/
(`found_path`: a symlinked project file needs its own approval); any edit changes the
hash, so the file is blocked again. The entry holds the path and the mapping that was
checked when it was approved (one `NAME provider connection` line each), so the hook's
worker exports exactly what was approved without loading a TOML parser at the prompt.
`deny` records sha256(path where found) under $AUTHSOME_HOME/deny/: a denied file stays
blocked whatever its content until it is allowed again. Entries never hold a secret.
The shell re-checks their presence with a builtin `[[ -e ]]` at every prompt.
"""

from __future__ import annotations

import os

from authsome import paths
from authsome.shell import project

try:  # the builtin module: hashlib would load OpenSSL (milliseconds) at every entry
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other builds
    from hashlib import sha256

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
    return sha256(b"authsome-allow\0" + _bytes(real_path) + b"\0" + content).hexdigest()


def path_key(real_path: str) -> str:
    return sha256(b"authsome-deny\0" + _bytes(real_path)).hexdigest()


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


def found_path(path: str) -> str:
    """Where a project file was found: its directory resolved (a tree reached through a
    symlinked directory is the same tree), the file itself not. A `.authsome.toml` that
    is a symlink is approved for the directory it sits in, on its own: it cannot borrow
    the approval of the file it points to (that would export another project's tokens
    in a directory nobody approved)."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def check(path: str, content: bytes, home: str | None = None) -> Approval:
    """The approval of `content` read from `path` (see `found_path`)."""
    return Approval(found_path(path), content, home)


def _write_entry(entry: str, text: bytes) -> None:
    paths.ensure_dir(os.path.dirname(entry))
    fd = paths.open_private(entry, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)


def encode_entries(real_path: str, entries: list[project.Entry]) -> bytes:
    lines = [f"# authsome allow: {real_path}".replace("\n", " ")]
    lines += [f"{e.name} {e.provider} {e.connection}" for e in entries]
    return "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"


def approved_entries(approval: Approval) -> list[project.Entry]:
    """The mapping recorded when this content was approved; ProjectError if unusable.

    Checked again here: an entry written by an older version (or by hand) still
    cannot export PATH or LD_PRELOAD.
    """
    try:
        with open(approval.allow_entry, "rb") as f:
            text = f.read(project.MAX_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise project.ProjectError(f"cannot read its approval ({type(exc).__name__})")
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3:
            raise project.ProjectError("its approval is damaged: run `authsome allow` again")
        entries.append(project.entry(fields[0], f"{fields[1]}:{fields[2]}"))
    return entries


def _remove(entry: str) -> None:
    try:
        os.unlink(entry)
    except FileNotFoundError:
        pass


def allow(path: str, content: bytes, home: str | None = None) -> Approval:
    """Approve this exact content of `path` (ProjectError if it is unusable); lifts a deny."""
    entries = project.parse(content)
    paths.ensure_dir(home or paths.home())
    approval = check(path, content, home)
    _write_entry(approval.allow_entry, encode_entries(approval.real_path, entries))
    _remove(approval.deny_entry)
    approval.state = ALLOWED
    return approval


def deny(path: str, content: bytes, home: str | None = None) -> Approval:
    """Block `path` whatever its content, until it is allowed again."""
    paths.ensure_dir(home or paths.home())
    approval = check(path, content, home)
    _write_entry(approval.deny_entry, _bytes(approval.real_path) + b"\n")
    _remove(approval.allow_entry)
    approval.state = DENIED
    return approval
