"""The thin client's half of `authsome run --sandbox` through the warm agent.

The run's process (authsome.agent.runs) planned the sandbox: bwrap's argv, the child's
environment, the listeners and the directories covered whole. bwrap must be our own
child (our terminal, signals, process group) and its network namespace is made by a
process we fork (netns.spawn_covered: it also covers every other socket *we* can reach),
so we start it here, pass the listeners bound inside back to the run's process, which
serves its proxy on them, and wait for the child as the in-process runner does.
"""

from __future__ import annotations

import os

from authsome.agent import wire
from authsome.proxy import foreground


def run(sock, argv: list[str], env: dict, fields: list[bytes], caught: list[int]) -> int | None:
    """Start the sandbox (`fields`: the listeners and hidden directories of the agent's
    b"sandbox" message); the status to exit with, or None when the namespace could not
    be made (the run's process was told why, and says it)."""
    from authsome.proxy.netns import (
        Listener,
        SandboxUnavailable,
        sandboxed_pid,
        send_fds,
        spawn_covered,
    )

    listeners = [
        Listener(kind.decode(), address.decode(), int(port))
        for kind, address, port in map(wire.decode_fields, wire.decode_fields(fields[0]))
    ]
    hidden_dirs = [os.fsdecode(d) for d in wire.decode_fields(fields[1])]
    if caught:
        return 128 + caught[0]  # told to stop before the child existed
    try:
        child, socks = spawn_covered(argv, env, listeners, hidden_dirs)
    except SandboxUnavailable as exc:
        try:
            sock.sendall(wire.frame([b"unavailable", str(exc).encode()]))
        except OSError:
            pass  # the run's process is gone too
        return None
    try:
        send_fds(sock, wire.frame([b"listening"]), [s.fileno() for s in socks])
    except OSError:
        pass  # the run's process is gone: no proxy, the child's status is all there is
    finally:
        for s in socks:
            s.close()  # the run's process has them now; bwrap never had them
    return foreground.wait_forwarding(child.pid, caught, sandboxed_pid)
