"""Keep other processes of the same user out of one that holds secrets (Linux).

`authsome run` (its proxy holds tokens; the vault key may be in its environment) and
the warm agent call `guard_process` first thing. A same-user process could otherwise
read their /proc/PID/environ and /proc/PID/mem (Debian and Fedora allow same-uid
reads: Yama's ptrace_scope is 0 or absent) or attach with ptrace.
"""

from __future__ import annotations

import sys

PR_SET_DUMPABLE = 4
KEY_VARS = (b"AUTHSOME_MASTER_KEY=", b"AUTHSOME_PASSPHRASE=")


def guard_process() -> None:
    """Non-dumpable: /proc/PID/environ, mem, maps... and ptrace are refused to everyone
    but root (and no core dump is written). Then the vault key variables are blanked in
    the environment block the kernel shows as /proc/PID/environ, so even a reader that
    gets in later (root) does not find them; os.environ keeps its own copy."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    try:
        _blank_exec_environment()
    except (OSError, ValueError):
        pass  # an odd /proc: the process is non-dumpable all the same


def _blank_exec_environment() -> None:
    import ctypes

    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # fields[0] is the 3rd field of stat(5): env_start and env_end are the 50th and 51st
    start, end = int(fields[47]), int(fields[48])
    if not 0 < start < end:
        return
    block = ctypes.string_at(start, end - start)
    padded = b"\0" + block  # an index in `padded` of "\0NAME" is that of NAME in `block`
    for name in KEY_VARS:
        at = padded.find(b"\0" + name)
        if at < 0:
            continue
        value = at + len(name)
        stop = block.find(b"\0", value)
        length = (len(block) if stop < 0 else stop) - value
        if length > 0:
            ctypes.memset(start + value, ord("x"), length)
