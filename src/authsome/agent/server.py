"""The agent: runs the helpers' read actions with warm imports, one at a time.

Each request is the same entry point `main(argv)` a helper process would run, with the
client's environment, cwd and umask in force and stdin/stdout/stderr as buffers
shaped like the client's own (same encodings, tty-ness, line buffering). Provider
files and vault records are read afresh on every run; only imports and unwrapped data
keys (`keycache`) stay warm. Requests are serialized because a run owns the process's
globals (os.environ, cwd, sys.stdout). Only the owner's uid is served (SO_PEERCRED).
The agent exits after AUTHSOME_AGENT_TIMEOUT idle seconds (default 600), when its own
code changes on disk, or when its socket is gone. `authsome run` is not served in the
agent itself: each run gets a process forked from it (authsome.agent.runs).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import socket
import struct
import sys
import time

from authsome import paths
from authsome.agent import client, keycache, wire
from authsome.agent.codewatch import CodeWatch
from authsome.entrypoints import MODULES

DEFAULT_TIMEOUT = 600.0
IO_TIMEOUT = 2.0  # reading a request; a client that stalls is dropped
SEND_TIMEOUT = 10.0
CHECK_EVERY = 30.0  # how often an idle agent checks that its socket still exists
SPARE_AFTER = 0.01  # idle this long, the agent forks the next run's process ahead
# entry name -> the module whose main(argv) runs it; "run" in a process of its own (runs)
MAINS = {**MODULES, "run": "authsome.cli.main"}
WARM = (
    *MAINS.values(),
    "authsome.adapters.k8s",
    "authsome.adapters.headers",
    "authsome.helper.actions",
    "argparse",
    "authsome.cli.cmd_get",
    "authsome.cli.cmd_list",
    "authsome.fastpath",
    "authsome.credentials",
    "authsome.vault.vault",
    "authsome.vault.keys",
    "authsome.providers.matching",
    "authsome.providers.unknown",  # a user file's unknown-key warnings (get, run)
    "authsome.protocol.k8s",
    "authsome.protocol.bazel",
    "traceback",
    "secretstorage",
    "keyring",
    # `authsome run`: what a run's process needs before and after its child starts
    "authsome.agent.runs",
    "authsome.cli.cmd_run",
    "authsome.proxy.runner",
    "authsome.proxy.server",
    "authsome.proxy.upstream",
    "authsome.proxy.header_cache",
    "authsome.proxy.stepup",
    "authsome.proxy.sandboxed",  # --sandbox: its plan, Java trust store and host guard
    "authsome.proxy.hostguard",
    "cryptography.hazmat.primitives.serialization.pkcs12",
    "authsome.oauth.tls",
    "authsome.procguard",
    "authsome.vault.backends",
    "authsome.vault.files",
    "cryptography.hazmat.backends.openssl",
    "tempfile",
)


def idle_timeout() -> float:
    try:
        value = float(os.environ.get("AUTHSOME_AGENT_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def peer_uid(conn: socket.socket) -> int | None:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]


# -- stdio shaped like the client's --------------------------------------------------------
class Recorder(io.RawIOBase):
    """A raw stream that records each write as (fd, bytes), in the order written."""

    def __init__(self, fd: int, chunks: list[bytes], tty: bool):
        self.fd, self.chunks, self.tty = fd, chunks, tty

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.chunks.append(bytes((self.fd,)) + bytes(b))
        return len(b)

    def isatty(self) -> bool:
        return self.tty


def _stdio(fd: int, info: bytes, chunks: list[bytes], tty: bool) -> io.TextIOWrapper:
    encoding, errors = os.fsdecode(info).split("\0")
    raw = Recorder(fd, chunks, tty)
    # As CPython sets up its own: stdout line-buffered on a terminal, stderr always.
    return io.TextIOWrapper(
        io.BufferedWriter(raw), encoding=encoding, errors=errors, line_buffering=tty or fd == 2
    )


class Request:
    def __init__(self, fields: list[bytes]):
        (_, _, entry, cwd, umask, ttys, out_info, err_info, data, argv, env) = fields
        self.entry = entry.decode()
        if self.entry not in MAINS:
            raise ValueError("unknown entry point")
        self.cwd = cwd
        self.umask = int(umask)
        self.ttys = (bool(ttys[0]), bool(ttys[1]))
        self.out_info, self.err_info = out_info, err_info
        self.stdin = data
        self.argv = [os.fsdecode(a) for a in wire.decode_fields(argv)]
        self.env = dict(e.split(b"=", 1) for e in wire.decode_fields(env))


def _exit_status(status: object) -> int:
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    print(status, file=sys.stderr)  # sys.exit("message") prints it and exits 1
    return 1


@contextlib.contextmanager
def client_environ(env: dict[bytes, bytes]):
    """os.environ is the client's for the duration: the code run here reads it as the
    client's own process would."""
    saved = dict(os.environb)
    os.environb.clear()
    os.environb.update(env)
    try:
        yield
    finally:
        os.environb.clear()
        os.environb.update(saved)


def prime_data_key(req: Request) -> None:
    """Unwrap the vault's data key here, in the run's environment, so that the cache has
    it: a run's process is a fork of this one, and what it unwraps dies with it (each
    run would ask the keyring again). Any failure is the run's own to report."""
    try:
        with client_environ(req.env):
            from authsome.vault.vault import Vault

            Vault().data_key()
    except Exception:  # noqa: S110 -- the run's process meets it again and says why
        pass


def run(req: Request, chunks: list[bytes] | None = None) -> tuple[int, list[bytes]]:
    """Run the request's entry point as its own process would; (exit code, output chunks)."""
    import importlib

    chunks = [] if chunks is None else chunks
    saved = (sys.stdin, sys.stdout, sys.stderr, sys.argv, os.umask(req.umask))
    try:
        with client_environ(req.env):
            sys.stdin = io.TextIOWrapper(io.BytesIO(req.stdin), encoding="utf-8")
            sys.stdout = _stdio(1, req.out_info, chunks, req.ttys[0])
            sys.stderr = _stdio(2, req.err_info, chunks, req.ttys[1])
            sys.argv = [client.ENTRIES[req.entry], *req.argv]
            try:
                status: object = importlib.import_module(MAINS[req.entry]).main(req.argv)
            except SystemExit as exc:
                status = exc.code
            except BaseException:  # an uncaught error ends its process with a traceback, 1
                import traceback

                traceback.print_exc()
                status = 1
            code = _exit_status(status)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: S110 -- what was written is recorded
                    pass
            return code & 0xFF, chunks
    finally:
        sys.stdin, sys.stdout, sys.stderr, sys.argv, umask = saved
        os.umask(umask)
        os.chdir("/")


class Agent:
    def __init__(self, home: str, timeout: float):
        self.home, self.timeout = home, timeout
        self.path = client.socket_path(home)
        self.started = time.time()
        self.served = 0
        self.fingerprint = client.fingerprint()
        self.watch: CodeWatch | None = None
        self.runs: set[int] = set()  # the processes of runs in progress (fork_run)
        self.spare = None  # runs.Spare: the next run's process, forked ahead
        self.runs_ahead = 0  # runs served by a spare
        self.own_fds: list[int] = []  # listener and lock: not for a run's process

    def control(self, conn: socket.socket, command: bytes) -> bool:
        """status / stop; True to stop."""
        info = [
            b"pid=%d" % os.getpid(),
            b"uptime=%d" % int(time.time() - self.started),
            b"served=%d" % self.served,
            b"runs_ahead=%d" % self.runs_ahead,
            b"spare=%d" % (self.spare.pid if self.spare is not None else 0),
            b"timeout=%d" % int(self.timeout),
            b"socket=" + os.fsencode(self.path),
        ]
        conn.sendall(wire.ACCEPTED + wire.frame(info))
        return command == b"stop"

    def handle(self, conn: socket.socket) -> bool:
        """Serve one connection; True when the agent should exit."""
        if peer_uid(conn) != os.getuid():
            return False  # another user: not a word
        conn.settimeout(IO_TIMEOUT)
        fields = wire.read_frame(conn.recv)
        if not fields or fields[0] != wire.MAGIC:
            conn.sendall(b"-")
            return False
        if len(fields) == 3 and fields[2] in (b"status", b"stop"):
            return self.control(conn, fields[2])
        if len(fields) != 11 or fields[1] != self.fingerprint:
            conn.sendall(b"-")  # another version or install: the client runs it itself
            return False
        assert self.watch is not None
        if self.watch.changed():
            conn.sendall(b"-")
            return True  # our code changed under us: the next client starts a fresh agent
        req = Request(fields)
        try:
            os.chdir(req.cwd)
        except OSError:
            conn.sendall(b"-")
            return False
        try:
            conn.sendall(wire.ACCEPTED)
        except OSError:
            os.chdir("/")
            return False  # the client gave up waiting: do not run it behind its back
        if req.entry == "run":
            self.fork_run(conn, req, fields)
            return False
        code, chunks = run(req)
        self.served += 1
        self.watch.note_new()
        conn.settimeout(SEND_TIMEOUT)
        try:
            conn.sendall(wire.frame([str(code).encode(), wire.encode_fields(chunks)]))
        except OSError:
            pass
        return False

    def fork_run(self, conn: socket.socket, req: Request, fields: list[bytes]) -> None:
        """`authsome run` in a process of its own: the spare, else one forked now."""
        if keycache.empty():
            prime_data_key(req)  # a new key makes the spare stale: this run is forked
        spare, self.spare = self.spare, None
        self.served += 1
        if spare is not None:
            if spare.fresh() and spare.pid in self.runs and spare.hand(conn, fields):
                self.runs_ahead += 1
                os.chdir("/")  # the spare goes to the client's directory itself
                return
            spare.discard()
        pid = os.fork()
        if pid == 0:
            from authsome.agent import runs

            runs.serve(conn, req, self.own_fds)  # never returns
        self.runs.add(pid)
        os.chdir("/")

    def want_spare(self) -> bool:
        return self.spare is None or not self.spare.fresh() or self.spare.pid not in self.runs

    def make_spare(self) -> None:
        from authsome.agent import runs

        if self.spare is not None:
            self.spare.discard()
        self.spare = runs.Spare(self.own_fds)
        self.runs.add(self.spare.pid)  # reaped like a run when it ends

    def reap(self) -> None:
        """Collect the runs that ended (each is our child)."""
        for pid in list(self.runs):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.runs.discard(pid)

    def socket_is_ours(self, ino: int) -> bool:
        try:
            return os.stat(self.path).st_ino == ino
        except OSError:
            return False

    def serve(self) -> int:
        agent_dir = paths.ensure_dir(os.path.dirname(self.path))
        lock_fd = paths.open_private(os.path.join(agent_dir, "agent.lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another agent runs (or starts) for this home
        if len(os.fsencode(self.path)) > client.SUN_PATH_MAX:
            return 0
        # Bound beside its place and moved there once it listens (below): a client finds
        # no socket, a dead agent's (refused at once), or one that answers; never one
        # that keeps it waiting while this agent warms up.
        staging = os.path.join(agent_dir, "new.sock")
        try:
            os.unlink(staging)  # a dead agent's: the lock says nobody else is here
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(staging)
        finally:
            os.umask(old)
        os.chmod(staging, 0o600)
        ino = os.stat(staging).st_ino
        os.chdir("/")
        for name in WARM:
            try:
                __import__(name)
            except Exception:  # noqa: S112 -- an optional backend; import on use
                continue
        keycache.install(self.timeout)
        from authsome.agent import runs

        runs.warm()
        self.watch = CodeWatch()
        listener.listen(64)
        os.rename(staging, self.path)  # replaces a dead agent's socket in one step
        self.own_fds = [listener.fileno(), lock_fd]
        last = time.monotonic()
        try:
            while True:
                remaining = last + self.timeout - time.monotonic()
                if remaining <= 0 or not self.socket_is_ours(ino):
                    return 0
                spare = self.want_spare()
                listener.settimeout(min(remaining, SPARE_AFTER if spare else CHECK_EVERY))
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    self.reap()
                    if spare and self.want_spare():
                        self.make_spare()
                    continue
                with conn:
                    try:
                        stop = self.handle(conn)
                    except Exception:  # why: a broken client; the next is unaffected
                        stop = False
                last = time.monotonic()
                self.reap()
                if stop:
                    return 0
        finally:
            if self.socket_is_ours(ino):
                os.unlink(self.path)
            listener.close()
            if self.spare is not None:
                self.spare.discard()
            keycache.clear()


def main() -> int:
    from authsome.procguard import guard_process

    guard_process()  # it holds the vault key and tokens: no same-user reader
    return Agent(paths.home(), idle_timeout()).serve()
