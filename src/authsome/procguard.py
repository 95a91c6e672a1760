"""Keep other processes of the same user out of one that holds secrets (Linux).

`authsome run` (its proxy holds tokens; the vault key may be in its environment) and
the warm agent call `guard_process` first thing. A same-user process could otherwise
read their /proc/PID/environ and /proc/PID/mem (Debian and Fedora allow same-uid
reads: Yama's ptrace_scope is 0 or absent) or attach with ptrace.

Import-light: `run`'s thin client calls this before its child starts, so prctl is
(and the sandbox's netns calls) reached through `_ctypes` alone (the `ctypes` package
costs 1-3 ms to import), and the
environment block is read and written through /proc/self/mem.
"""

from __future__ import annotations

import os
import sys

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
KEY_VARS = (b"AUTHSOME_MASTER_KEY=", b"AUTHSOME_PASSPHRASE=")

_found: dict[str, object] = {}


def libc_function(name: str):
    """libc's (or the program's) function `name`, returning a C int, with errno kept
    for `_ctypes.get_errno()`; bytes pass as char *, None as NULL."""
    function = _found.get(name)
    if function is None:
        import _ctypes

        class CInt(_ctypes._SimpleCData):
            _type_ = "i"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = CInt

        class Process:  # what CFuncPtr looks a symbol up in: the program and its libc
            _handle = _ctypes.dlopen(None, os.RTLD_NOW)

        function = _found[name] = Function((name, Process()))
    return function


def prctl(option: int, arg: int) -> int:
    """prctl(2) with one argument; its result (-1 on failure)."""
    return libc_function("prctl")(option, arg, 0, 0, 0)


def set_dumpable(dumpable: bool) -> None:
    prctl(PR_SET_DUMPABLE, int(dumpable))


def guard_process() -> None:
    """Non-dumpable: /proc/PID/environ, mem, maps... and ptrace are refused to everyone
    but root (and no core dump is written). Then the vault key variables are blanked in
    the environment block the kernel shows as /proc/PID/environ, so even a reader that
    gets in later (root) does not find them; os.environ keeps its own copy."""
    if not sys.platform.startswith("linux"):
        return
    if prctl(PR_GET_DUMPABLE, 0) == 0:
        return  # done already: a run's process forked from the (guarded) agent
    try:
        # Opened while still dumpable: once not, /proc/self/mem belongs to root.
        mem = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        mem = -1
    set_dumpable(False)
    if mem < 0:
        return  # an odd /proc: the process is non-dumpable all the same
    try:
        _blank_exec_environment(mem)
    except (OSError, ValueError):
        pass
    finally:
        os.close(mem)


def _blank_exec_environment(mem: int) -> None:
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # fields[0] is the 3rd field of stat(5): env_start and env_end are the 50th and 51st
    start, end = int(fields[47]), int(fields[48])
    if not 0 < start < end:
        return
    block = os.pread(mem, end - start, start)
    padded = b"\0" + block  # an index in `padded` of "\0NAME" is that of NAME in `block`
    for name in KEY_VARS:
        at = padded.find(b"\0" + name)
        if at < 0:
            continue
        value = at + len(name)
        stop = block.find(b"\0", value)
        length = (len(block) if stop < 0 else stop) - value
        if length > 0:
            os.pwrite(mem, b"x" * length, start + value)
