"""What the shell re-checks at every prompt, with builtins only.

The worker hands the shell a list of (path, spec) pairs; the prompt is "unchanged"
while every path still matches its spec:

- `-`: the path must not exist (an approval not given yet, a vault not created yet);
- `+`: the path must exist (the approval entry in force);
- otherwise the path's mtime must be what it was. bash and zsh cannot read an mtime
  without a process, but `[[ A -nt B ]]` and `[[ A -ot B ]]` are builtins comparing
  nanoseconds: the spec is a *stamp*, an empty file whose mtime we set to the watched
  path's, and "neither newer nor older" means unchanged. fish >= 3.5 has the builtin
  `path mtime`, in whole seconds: its spec is the number.

Stamps are named after (path, mtime) and never modified once made, so shells sharing
them cannot confuse each other; a stamp deleted under a shell reads as a change.
"""

from __future__ import annotations

import os
import time

from authsome import paths
from authsome.shell.approval import sha256

ABSENT = "-"
PRESENT = "+"
# Linux file times come from a coarse clock (a tick of up to 10 ms); an edit in the
# same tick as our look would keep the same mtime. Such a "racy" look is repeated.
RACY_NS = 20_000_000


def stamp_dir(home: str | None = None) -> str:
    return os.path.join(home or paths.home(), "hook", "stamps")


class Watch:
    __slots__ = ("kind", "mtime_ns", "path")

    def __init__(self, path: str, kind: str, mtime_ns: int = 0):
        self.path = path
        self.kind = kind  # ABSENT, PRESENT or "mtime"
        self.mtime_ns = mtime_ns

    def racy(self, now_ns: int, whole_seconds: bool) -> bool:
        """True when a later edit could keep the mtime we saw (so look again soon)."""
        if self.kind != "mtime":
            return False
        if whole_seconds:
            return self.mtime_ns // 1_000_000_000 >= now_ns // 1_000_000_000
        return self.mtime_ns >= now_ns - RACY_NS

    def spec(self, stamps: bool, home: str | None = None) -> str:
        if self.kind != "mtime":
            return self.kind
        if not stamps:
            return str(self.mtime_ns // 1_000_000_000)
        return make_stamp(self.path, self.mtime_ns, home)


def presence(path: str) -> Watch:
    """Watch whether `path` exists (as it does now)."""
    return Watch(path, PRESENT if os.path.lexists(path) else ABSENT)


def mtime(path: str) -> Watch:
    """Watch `path`'s modification time (or its appearance, if it does not exist)."""
    try:
        st = os.stat(path)
    except OSError:
        return Watch(path, ABSENT)
    return Watch(path, "mtime", st.st_mtime_ns)


def make_stamp(path: str, mtime_ns: int, home: str | None = None) -> str:
    """An empty file carrying `mtime_ns` as its mtime, named after (path, mtime)."""
    key = sha256(os.fsencode(path) + b"\0" + str(mtime_ns).encode()).hexdigest()[:32]
    directory = stamp_dir(home)
    stamp = os.path.join(directory, key)
    try:
        if os.stat(stamp).st_mtime_ns == mtime_ns:
            return stamp
    except FileNotFoundError:
        paths.ensure_dir(directory)
        _collect(directory)
        os.close(paths.open_private(stamp, os.O_WRONLY | os.O_CREAT))
    os.utime(stamp, ns=(mtime_ns, mtime_ns))
    return stamp


def _collect(directory: str, keep: int = 256, max_age: float = 14 * 86400) -> None:
    """Drop old stamps once there are many; a shell still using one just looks again."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    if len(names) < keep:
        return
    limit = time.time() - max_age
    for name in names:
        full = os.path.join(directory, name)
        try:
            if os.stat(full).st_ctime < limit:
                os.unlink(full)
        except OSError:
            pass
