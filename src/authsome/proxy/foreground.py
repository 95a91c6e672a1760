"""The run's child in the foreground: start it, pass it our signals, return its status.

Shared by the in-process runner and the thin `authsome run` client of the warm agent
(authsome.agent.runclient), which must reach the child's exec with little Python: `os`
and `_signal` only (`signal` and `subprocess` import `enum`, `selectors`, `threading`).
"""

from __future__ import annotations

import _signal
import os
import sys

FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
FROM_TERMINAL = (_signal.SIGINT, _signal.SIGHUP)  # what a terminal sends its foreground group
# Python ignores SIGPIPE and SIGXFSZ; a child starts with the defaults (as subprocess does).
RESTORED = (_signal.SIGPIPE, _signal.SIGXFSZ)


def terminal_signals_child(pid: int) -> bool:
    """Would a signal from our terminal (^C, a hangup) have reached `pid` as well? So it
    does when we are the terminal's foreground process group and the child is in it."""
    try:
        if os.getpgid(pid) != os.getpgrp():
            return False
    except OSError:
        return False
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return True
        except OSError:
            continue
    return False


def exit_status(returncode: int) -> int:
    """The shell's convention: a child killed by signal N gives 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def cannot_start(name: str, found: bool) -> int:
    """A shell's answer when CMD cannot start: 127 when not found, 126 when not runnable."""
    reason = "permission denied" if found else "command not found"
    print(f"authsome run: {name}: {reason}", file=sys.stderr)
    return 126 if found else 127


def catch(caught: list[int]) -> dict[int, object]:
    """Note SIGINT, SIGTERM and SIGHUP in `caught` until a child exists; the previous
    handlers, for `restore`."""

    def note(signum: int, _frame) -> None:
        caught.append(signum)

    return {s: _signal.signal(s, note) for s in FORWARDED}


def restore(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        _signal.signal(signum, handler)


def close_inherited_fds() -> None:
    """What subprocess's close_fds does: descriptors we inherited stay out of the child."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in fds:
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own descriptor, closed since


def run_child(command: list[str], env: dict, caught: list[int]) -> int:
    """Start `command` with `env` (PATH searched as a shell does), forward SIGINT,
    SIGTERM and SIGHUP to it, and return the status to exit with (127/126 as a shell
    when it cannot start). `caught` holds signals that came before it existed."""
    if caught:
        return 128 + caught[0]  # told to stop before the child existed
    close_inherited_fds()
    try:
        pid = os.posix_spawnp(command[0], command, env, setsigdef=RESTORED)
    except (FileNotFoundError, PermissionError) as exc:
        return cannot_start(command[0], found=not isinstance(exc, FileNotFoundError))
    return wait_forwarding(pid, caught)


def wait_forwarding(pid: int, caught: list[int], aim=None) -> int:
    """Forward SIGINT, SIGTERM and SIGHUP (and those in `caught`, which came while it
    started) to our child `pid` until it exits; the status to exit with. `aim(pid)`:
    where signals go instead (netns.sandboxed_pid: CMD, behind bwrap, which would die
    of them), asked until it names another process."""
    target = [pid]

    def forward(signum: int, _frame) -> None:
        if signum in FROM_TERMINAL and terminal_signals_child(pid):
            return  # the terminal sent it to the child as well: once is enough
        if aim is not None and target[0] == pid:
            target[0] = aim(pid)
        try:
            os.kill(target[0], signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        _signal.signal(signum, forward)
    for signum in caught:  # arrived while the child was starting
        forward(signum, None)
    _, status = os.waitpid(pid, 0)  # retried after each forwarded signal (PEP 475)
    return exit_status(os.waitstatus_to_exitcode(status))
