"""`authsome run` as a thin client of the warm agent (see authsome.agent.runs).

The agent's fork plans the run, mints its CA and holds its proxy; this process only
starts the child with the environment it is given, forwards signals to it and reports
its status, so the child's exec comes after a few milliseconds of Python instead of
~100 (argparse, the vault, cryptography's x509, ssl, subprocess). Any doubt before the
agent took the run (no agent, refused) returns None: the caller runs it in-process, as
without an agent. Import-light: os, sys, _socket, _signal; a sandboxed run adds what
starting the sandbox takes (authsome.agent.runsandbox).
"""

from __future__ import annotations

import os
import sys

from authsome.agent import client, wire
from authsome.proxy import foreground


def _write(output: bytes) -> None:
    sys.stdout.flush()
    client.write_chunks(wire.decode_fields(output))


def run(argv: list[str]) -> int | None:
    """Run `authsome run ARGS` (argv from "run" on) through the agent; its exit status,
    or None when the agent does not hold it (nothing was started or printed)."""
    if not client.enabled() or any(a.startswith(("-h", "--h")) for a in argv):
        return None  # --help is laid out for our terminal's width, which the agent lacks
    from authsome.paths import home

    try:
        sock = client.connect(home())
    except Exception:  # why: any doubt: run in-process
        return None
    if sock is None:
        return None
    caught: list[int] = []
    previous = foreground.catch(caught)
    try:
        status = _exchange(sock, argv, caught)
    finally:
        sock.close()
        foreground.restore(previous)
    if status is None and caught:
        return 128 + caught[0]  # told to stop while asking: nothing started
    return status


def _exchange(sock, argv: list[str], caught: list[int]) -> int | None:
    try:
        sock.sendall(wire.frame(client.request_fields("run", argv, b"")))
        if os.environ.get("AUTHSOME_MASTER_KEY") or os.environ.get("AUTHSOME_PASSPHRASE"):
            # While the agent plans the run, before any child exists: the child must not
            # read the key in our /proc/PID/environ or memory. (Run here instead, `run`
            # guards itself first thing.)
            from authsome.procguard import guard_process

            guard_process()
        if sock.recv(1) != wire.ACCEPTED:
            return None
        sock.settimeout(None)  # planning may read a shared vault over the network
        reply = wire.read_frame(sock.recv)
    except (OSError, ValueError):
        return None  # nothing started: run it here
    if reply[0] == b"exit":
        _write(reply[2])
        return int(reply[1])
    if reply[0] not in (b"start", b"sandbox"):
        return None  # nothing started: run it here
    _write(reply[1])
    command = [os.fsdecode(a) for a in wire.decode_fields(reply[2])]
    env = dict(os.environb)  # the agent saw only what a run reads: it sends changes
    for name in wire.decode_fields(reply[4]):
        env.pop(name, None)
    env.update(e.split(b"=", 1) for e in wire.decode_fields(reply[3]))
    if reply[0] == b"sandbox":
        from authsome.agent import runsandbox

        status = runsandbox.run(sock, command, env, reply[5:], caught)
    else:
        status = foreground.run_child(command, env, caught)
    try:
        if status is not None:
            sock.sendall(wire.frame([b"exited", str(status).encode()]))
        final = wire.read_frame(sock.recv)  # the proxy stopped, the audit written
    except (OSError, ValueError):
        return 2 if status is None else status  # the run's process died
    _write(final[2])
    return int(final[1])
