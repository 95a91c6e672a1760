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

The agent forks that process ahead (`Spare`), while it is idle: the spare makes the
run's CA keys and goes once through what every run does first (argparse, the CA code),
so that the fork and its first copy-on-write faults (~7 ms together) are not paid by
the run. The agent hands the next run's connection to it (SCM_RIGHTS), then the
request; a spare that is gone, or older than a data key the agent unwrapped since, is
dropped and the run forked as before.

Messages on the connection (agent.wire frames), after the request and its ACCEPTED:
  agent -> client  [b"exit", code, output]           done before any child (an error)
                   [b"start", output, argv, set, unset]  start this child now, its
                                                     environment ours changed so
                   [b"sandbox", output, argv, set, unset, listeners, hidden_dirs]
                                                     start bwrap (argv) in a network
                                                     namespace of its own, the
                                                     listeners bound there
  client -> agent  [b"listening"] + the listeners' descriptors (SCM_RIGHTS), after
                   b"sandbox"; or [b"unavailable", message]: no namespace, no child
                   [b"exited", status]               the child's exit status
  agent -> client  [b"exit", code, output]           run's own exit code, last output
"""

from __future__ import annotations

import os
import socket
import sys

from authsome.agent import keycache, wire


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

    def _env_changes(self, env: dict[str, str], unset: tuple[str, ...] = ()) -> list[bytes]:
        """The child's environment as changes to the client's own (the client sent
        only the variables a run reads, client.run_env): the set fields and the unset
        ones, each encoded; `unset` names go whether we saw them or not."""
        here = os.environb
        changed = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        gone = [k for k in here if k not in changed]
        gone += [n for n in map(os.fsencode, unset) if n not in changed and n not in here]
        env_fields = [k + b"=" + v for k, v in changed.items() if here.get(k) != v]
        return [wire.encode_fields(env_fields), wire.encode_fields(gone)]

    def start(self, command: list[str], env: dict[str, str], then) -> int:
        """Hand the client the child to start, then call `then` (the proxy's start: its
        thread would compete for the GIL while we answer); the child's exit status
        (137 if the client died)."""
        argv = [os.fsencode(a) for a in command]
        try:
            try:
                fields = [b"start", self._said(), wire.encode_fields(argv)]
                self.conn.sendall(wire.frame(fields + self._env_changes(env)))
            finally:
                then()
            return _exited(wire.read_frame(self.conn.recv))  # as long as the child runs
        except (OSError, ValueError):
            return 137  # the client is gone (killed): the run is over, stop the proxy

    def sandbox(self, plan, proxy) -> int:
        """Hand the client the planned sandbox (authsome.proxy.sandboxed.Plan): it
        starts bwrap in a network namespace of its own and passes back the listeners
        bound there, which `proxy` serves; the child's exit status as for `start`.
        Raises SandboxUnavailable (the client could not make the namespace)."""
        from authsome.proxy.netns import SandboxUnavailable
        from authsome.proxy.sandbox import UNSET
        from authsome.proxy.sandboxed import serve_on

        argv = wire.encode_fields([os.fsencode(a) for a in plan.argv])
        listeners = [
            wire.encode_fields([k.encode(), a.encode(), b"%d" % p]) for k, a, p in plan.listeners
        ]
        dirs = wire.encode_fields([os.fsencode(d) for d in plan.hidden_dirs])
        try:
            try:
                fields = [b"sandbox", self._said(), argv, *self._env_changes(plan.env, UNSET)]
                self.conn.sendall(wire.frame([*fields, wire.encode_fields(listeners), dirs]))
            finally:
                proxy.start()  # it builds its server meanwhile, then waits for sockets
            reply, fds = _read_frame_with_fds(self.conn, len(plan.listeners))
            socks = [socket.socket(fileno=fd) for fd in fds]
            if reply == [b"listening"] and len(socks) == len(plan.listeners):
                serve_on(proxy, socks, plan.listeners)
                reply = wire.read_frame(self.conn.recv)  # as long as the child runs
            else:
                for sock in socks:
                    sock.close()
            if reply[:1] == [b"unavailable"] and len(reply) == 2:
                raise SandboxUnavailable(reply[1].decode(errors="replace"))
            return _exited(reply)
        except (OSError, ValueError):
            return 137  # the client is gone (killed): the run is over, stop the proxy


def _exited(reply: list[bytes]) -> int:
    """The child's status from the client's [b"exited", status]; ValueError otherwise."""
    if reply[:1] == [b"exited"] and len(reply) == 2:
        return int(reply[1])
    raise ValueError("unexpected reply")


def _read_frame_with_fds(conn: socket.socket, most: int) -> tuple[list[bytes], list[int]]:
    """The next frame and the descriptors sent with its first bytes (SCM_RIGHTS)."""
    head, fds, _, _ = socket.recv_fds(conn, 4, max(1, most))
    if not head:
        raise ValueError("connection closed")
    head += wire.read_exact(conn.recv, 4 - len(head))
    n = int.from_bytes(head, "big")
    if n > wire.MAX_MESSAGE:
        raise ValueError("message too large")
    return wire.decode_fields(wire.read_exact(conn.recv, n)), fds


def warm() -> None:
    """Done once in the agent, so that no run's process pays for it: OpenSSL's first EC
    key and certificate (a throwaway CA, in memory only), and the garbage collector told
    to leave everything loaded so far alone, so that a fork's collections do not touch
    (and copy) the pages it shares with the agent."""
    import gc
    import tempfile

    from authsome.proxy.ca import CertAuthority

    CertAuthority(["warm-up.invalid"]).cert_pem  # noqa: B018 -- minting is the point
    tempfile.gettempdir()  # found for the agent's own TMPDIR (see `_temp_dir_for`)
    gc.freeze()


TEMP_VARS = (b"TMPDIR", b"TEMP", b"TMP")


def _temp_dir_for(env: dict[bytes, bytes]) -> None:
    """The run's directory goes where the client's environment says: the directory the
    agent found (finding one writes a probe file, ~1 ms) when the variables that choose
    it are the agent's own, else tempfile looks again under the client's."""
    import tempfile

    if any(env.get(name) != os.environb.get(name) for name in TEMP_VARS):
        tempfile.tempdir = None


def serve(conn, req, close: list[int]) -> None:
    """In the forked process: run `authsome run` for `req` over `conn`; never returns.
    `close` are the agent's own descriptors (listener, lock) this process must not keep."""
    try:
        for fd in close:
            os.close(fd)
        conn.settimeout(None)
        _temp_dir_for(req.env)
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


class Spare:
    """A run's process forked ahead and prepared, waiting for the agent's next run."""

    def __init__(self, close: list[int]) -> None:
        self.generation = keycache.generation()  # the data keys it has
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _wait_for_run(theirs, close)  # never returns
        theirs.close()
        self.pid, self.sock = pid, ours

    def fresh(self) -> bool:
        return self.generation == keycache.generation()

    def hand(self, conn: socket.socket, fields: list[bytes]) -> bool:
        """Give it the run on `conn` (`fields`: the request); False if it cannot take
        it (it is gone): then it has not started anything, and the caller forks."""
        try:
            socket.send_fds(self.sock, [b"R"], [conn.fileno()])
            self.sock.sendall(wire.frame(fields))
            return True
        except OSError:
            return False
        finally:
            self.sock.close()

    def discard(self) -> None:
        self.sock.close()  # it reads the end of its connection and exits


def prepare() -> None:
    """In a spare: what each run does first and needs nothing of the run for. The CA
    minted here is thrown away; it is for the pages its code touches (a fork's first
    touch of each costs a copy), as is the parse. The keys made ahead are the run's;
    so are the parser (kept by build_parser) and the system's roots."""
    from authsome.cli.main import build_parser
    from authsome.proxy import ca, runner

    ca.CertAuthority(["warm-up.invalid"]).cert_pem  # noqa: B018 -- minting is the point
    ca.make_keys_ahead()
    build_parser(["run"]).parse_args(["run", "--", "true"])
    roots = runner.system_roots_file()
    if roots is not None:
        runner.read_ca_file(roots)  # kept while the file stays as it is


def _wait_for_run(sock: socket.socket, close: list[int]) -> None:
    """The spare's life: prepare, wait for the run (or the agent's end), serve it."""
    try:
        for fd in close:
            os.close(fd)
        prepare()
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
        if not fds:
            os._exit(0)  # the agent closed our connection: it stops, or we are stale
        conn = socket.socket(fileno=fds[0])
        from authsome.agent.server import Request

        req = Request(wire.read_frame(sock.recv))
        sock.close()
        os.chdir(req.cwd)
    except BaseException:
        os._exit(0)  # the client, told nothing, runs it itself
    serve(conn, req, [])
