"""`authsome run` through the warm agent: each run's proxy in a process forked for it.

The agent already has the proxy's imports (cryptography's x509 alone is ~60 ms) and the
vault's unwrapped data key. A fork of it runs `authsome run ARGS` exactly as the CLI
would (the client's environment, cwd and umask; its output recorded), up to the moment
the child would start: the routes planned, the run's own CA minted, its trust files
written, its own listener bound with its own proxy password. Then `Handoff.start`
sends the client the child's command and environment; the client starts the child (its
terminal, process group and signals), waits, and reports the status; the forked process
serves the proxy until then, stops it, removes the run's directory, writes the last
audit lines and answers with run's exit code and the rest of its output.

One process per run, forked from a non-dumpable agent (so non-dumpable too): the run's
CA key, proxy password, routes and tokens never leave it, no other run shares it, and
it ends with the run, or when the client's connection drops (the client was killed).

Messages on the connection (agent.wire frames), after the request and its ACCEPTED:
  agent -> client  [b"local"]                       run it in-process (--sandbox)
                   [b"exit", code, output]           done before any child (an error)
                   [b"start", output, argv, set, unset]  start this child now, its
                                                     environment ours changed so
  client -> agent  [b"exited", status]               the child's exit status
  agent -> client  [b"exit", code, output]           run's own exit code, last output
"""

from __future__ import annotations

import os
import sys

from authsome.agent import wire


class Handoff:
    """What authsome.proxy.runner calls instead of starting the child itself."""

    def __init__(self, conn, chunks: list[bytes]) -> None:
        self.conn, self.chunks = conn, chunks

    def _said(self) -> bytes:
        """The output recorded so far (warnings, usually), taken out of the record."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        said = wire.encode_fields(list(self.chunks))
        self.chunks.clear()
        return said

    def start(self, command: list[str], env: dict[str, str], then) -> int:
        """Hand the client the child to start, then call `then` (the proxy's start: its
        thread would compete for the GIL while we answer); the child's exit status
        (137 if the client died).

        The client sent only the variables a run reads (client.run_env): the child's
        environment goes back as changes to the client's own, which the client applies.
        """
        argv = [os.fsencode(a) for a in command]
        here = os.environb
        changed = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        unset = [k for k in here if k not in changed]
        env_fields = [k + b"=" + v for k, v in changed.items() if here.get(k) != v]
        try:
            try:
                self.conn.sendall(
                    wire.frame(
                        [
                            b"start",
                            self._said(),
                            wire.encode_fields(argv),
                            wire.encode_fields(env_fields),
                            wire.encode_fields(unset),
                        ]
                    )
                )
            finally:
                then()
            reply = wire.read_frame(self.conn.recv)  # as long as the child runs
            if reply[:1] == [b"exited"] and len(reply) == 2:
                return int(reply[1])
        except (OSError, ValueError):
            pass
        return 137  # the client is gone (killed): the run is over, stop the proxy

    def decline(self) -> None:
        """Leave this run to the client (it runs it in-process) and end this process."""
        try:
            self.conn.sendall(wire.frame([b"local"]))
        finally:
            os._exit(0)


def warm() -> None:
    """Done once in the agent, so that no run's process pays for it: OpenSSL's first EC
    key and certificate (a throwaway CA, in memory only), and the garbage collector told
    to leave everything loaded so far alone, so that a fork's collections do not touch
    (and copy) the pages it shares with the agent."""
    import gc

    from authsome.proxy.ca import CertAuthority

    CertAuthority(["warm-up.invalid"]).cert_pem  # noqa: B018 -- minting is the point
    gc.freeze()


def serve(conn, req, close: list[int]) -> None:
    """In the forked process: run `authsome run` for `req` over `conn`; never returns.
    `close` are the agent's own descriptors (listener, lock) this process must not keep."""
    try:
        for fd in close:
            os.close(fd)
        conn.settimeout(None)
        import tempfile

        tempfile.tempdir = None  # the run's directory goes in the client's TMPDIR
        from authsome.agent.server import run
        from authsome.proxy import runner

        chunks: list[bytes] = []
        runner.handoff = Handoff(conn, chunks)
        code, chunks = run(req, chunks)
        conn.sendall(wire.frame([b"exit", str(code).encode(), wire.encode_fields(chunks)]))
    except BaseException:  # noqa: S110 -- the client then ends with the child's status
        pass
    finally:
        os._exit(0)
