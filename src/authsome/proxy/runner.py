"""`authsome run`: the proxy on background threads, the child in the foreground.

The main thread owns the child: it forwards SIGINT, SIGTERM and SIGHUP, waits, and
returns the child's status (128+N for a signal). The proxy serves on daemon threads.
The temporary directory holds only public material (the CA certificate and the trust
bundle) and is removed on every exit path we can catch.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from authsome import paths

from . import foreground
from .ca import CertAuthority
from .childenv import child_env, user_ca_files
from .netns import sandboxed_pid
from .routes import RouteTable

# The server's modules load in the proxy thread while the child starts: the listening
# socket is bound here first, so early connections wait in its backlog.

# Set only in a process the warm agent forked for one run (authsome.agent.runs): there
# the client starts the child; `handoff.start(command, env, then)` hands it over, calls
# `then` (the proxy's start) and returns the child's exit status; for the sandbox,
# `handoff.sandbox(plan, proxy)` hands over the planned sandbox (bwrap must be the
# client's own child), starts `proxy` on the listeners the client bound in the
# sandbox's namespace, and returns the child's exit status likewise.
handoff = None

PROXY_USER = "authsome"
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


def system_roots_file() -> str | None:
    """The PEM bundle the system's OpenSSL trusts (None if it keeps only a hashed dir)."""
    paths = ssl.get_default_verify_paths()
    for path in (paths.openssl_cafile, paths.cafile, *SYSTEM_BUNDLES):
        if path and os.path.isfile(path):
            return path
    return None


_read: dict[str, tuple[tuple[int, int, int], bytes]] = {}


def read_ca_file(path: str) -> bytes:
    """A CA file's bytes, kept while its inode, size and mtime stay (the system's is
    ~200 KB: the agent's spare run process reads it ahead of its run)."""
    st = os.stat(path)
    seen = (st.st_ino, st.st_size, st.st_mtime_ns)
    kept = _read.get(path)
    if kept is None or kept[0] != seen:
        kept = _read[path] = (seen, paths.read_regular(path))  # a FIFO would hang open()
    return kept[1]


def write_trust(directory: str, ca_pem: bytes, env: Mapping[str, str]) -> tuple[str, str]:
    """ca.pem and bundle.pem (system roots + the user's own CA files + our CA), 0600.
    A user's file that is the system bundle itself (SSL_CERT_FILE pointing at it, as
    many images set) is not added twice."""
    roots = system_roots_file()
    files = [] if roots is None else [roots]
    seen = {os.path.realpath(p) for p in files}
    for path in user_ca_files(env):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            files.append(path)
    parts: list[bytes] = []
    for path in files:
        try:
            data = read_ca_file(path)
        except OSError:
            continue  # a stale variable the child would not have been able to use either
        if data.strip():
            parts += (data, b"" if data.endswith(b"\n") else b"\n")
    parts.append(ca_pem)
    ca_path, bundle_path = os.path.join(directory, "ca.pem"), os.path.join(directory, "bundle.pem")
    paths.write_new(ca_path, [ca_pem])
    paths.write_new(bundle_path, parts)  # unjoined: no copies of the ~200 KB of roots
    return ca_path, bundle_path


def write_wgetrc(directory: str, bundle_path: str, env: Mapping[str, str]) -> str | None:
    """A wgetrc trusting the bundle, for GNU wget built with GnuTLS (Debian's, Ubuntu's),
    which reads no CA variable; None when the user has a wgetrc of their own (WGETRC
    would replace it, and it may hold passwords we will not copy)."""
    home = env.get("HOME")
    if "WGETRC" in env or (home and os.path.lexists(os.path.join(home, ".wgetrc"))):
        return None
    path = os.path.join(directory, "wgetrc")
    paths.write_new(path, [f"ca_certificate = {bundle_path}\n".encode()])
    return path


def _remove_run_dir(path: str) -> None:
    """The run's directory holds only the files written into it (no subdirectory):
    unlink each and rmdir, cheaper than shutil.rmtree; rmtree for anything else."""
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class ProxyThread:
    """The proxy's accept loop on a daemon thread. It listens on 127.0.0.1:0, bound
    here, or (`bind=False`) on the sockets `listen` hands it later: the sandbox's,
    bound inside its namespace; "direct" and "relay" listeners get threads of their own.
    The thread starts at once either way: it loads the server's modules meanwhile."""

    def __init__(self, make_server: Callable[[], object], bind: bool = True) -> None:
        self._make_server = make_server
        self._sock: socket.socket | None = None
        self._extra: list[tuple[socket.socket, str, int]] = []
        self._ready = threading.Event()
        self.port = 0
        if bind:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            self.listen(sock)
        self._server = None
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="authsome-proxy", daemon=True)

    def listen(self, sock: socket.socket, extra: Sequence[tuple[socket.socket, str, int]] = ()):
        """Serve `sock` (the HTTP proxy) and `extra` (socket, kind, port) listeners."""
        self._sock, self._extra = sock, list(extra)
        self.port = sock.getsockname()[1]
        self._ready.set()

    def start(self) -> int:
        self._thread.start()
        return self.port

    def _run(self) -> None:
        try:
            server = self._make_server()
            self._ready.wait()
            with self._lock:
                if self._stopping:
                    return
                self._server = server
            for sock, kind, port in self._extra:
                handle = getattr(server, kind)(port)
                threading.Thread(target=server.serve, args=(sock, handle), daemon=True).start()
            server.serve(self._sock)  # type: ignore[attr-defined]
        except Exception as exc:  # the child then sees refused requests; say why
            if not self._stopping:
                print(f"authsome run: the proxy stopped: {exc}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            server = self._server
        self._ready.set()  # a thread still waiting for its sockets: there will be none
        if server is not None:
            server.close()  # type: ignore[attr-defined]
        for sock in [self._sock, *(s for s, _, _ in self._extra)]:
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes an accept() close() missed
            except OSError:
                pass
            sock.close()
        if server is not None and self._thread.is_alive():
            self._thread.join(5)  # it served: its last requests are done (and audited)
        # Not serving yet (still building its server, as when a quick child is done):
        # it sees `_stopping` and returns without serving; nothing to wait for.


class SandboxOptions(NamedTuple):
    allow_host_ports: tuple[int, ...] = ()


def run(
    command: Sequence[str],
    routes: RouteTable,
    get_header: Callable,
    managed_vars: Sequence[str] = (),
    resolve: dict[tuple[str, int], str] | None = None,
    deny_unmatched: bool = False,
    audit: Callable[..., None] | None = None,
    tls: Callable[[], ssl.SSLContext] | None = None,
    sandbox: SandboxOptions | None = None,
) -> int:
    """Run `command` under the proxy (in the sandbox if `sandbox`); returns the exit
    status to exit with. Raises SandboxUnavailable before CMD starts."""
    if tls is None:
        from authsome.oauth.tls import ssl_context as tls

    caught: list[int] = []
    previous = foreground.catch(caught)  # until the child exists; then forwarded to it
    ca = CertAuthority(routes.names())
    tmp = tempfile.mkdtemp(prefix="authsome-run-")  # 0700
    password = base64.urlsafe_b64encode(os.urandom(24)).decode()  # `secrets` costs 6 ms

    def make_server():
        from .http_rules import basic_credential
        from .server import ProxyServer
        from .upstream import Pool, Resolver

        guard = None
        if sandbox is not None:  # the proxy must not be the sandbox's road to this machine
            from .hostguard import HostGuard

            named = frozenset((h.lower(), p) for h, p in (resolve or {}))
            guard = HostGuard(frozenset(sandbox.allow_host_ports), named)
        server = ProxyServer(
            routes,
            get_header,
            ca,
            Pool(Resolver(resolve), tls, guard=guard),
            basic_credential(PROXY_USER, password),
            deny_unmatched=deny_unmatched,
            audit=audit,
        )
        note = getattr(get_header, "note_step_up", None)
        if note is not None:
            from .stepup import StepUp

            server.forwarder.on_forbidden = StepUp(note, server.warn)
        return server

    proxy: ProxyThread | None = None
    try:
        ca_path, bundle_path = write_trust(tmp, ca.cert_pem, os.environ)
        wgetrc = write_wgetrc(tmp, bundle_path, os.environ)
        if sandbox is None:
            proxy = ProxyThread(make_server)
            url = f"http://{PROXY_USER}:{password}@127.0.0.1:{proxy.port}"
            env = child_env(os.environ, url, ca_path, bundle_path, managed_vars, wgetrc)
            if handoff is not None:  # the client's child; the proxy starts once it knows
                return handoff.start(list(command), env, proxy.start)
            proxy.start()
            return foreground.run_child(list(command), env, caught)
        else:
            from .sandboxed import plan_sandboxed, runnable, start_sandboxed

            found = runnable(command[0])
            if found is not None or caught:
                return found if found is not None else 128 + caught[0]
            # The proxy thread loads its modules while the sandbox starts. The fork
            # in netns.spawn runs only pre-imported code in the child, so a thread
            # importing meanwhile cannot leave it a lock it needs.
            proxy = ProxyThread(make_server, bind=False)
            if handoff is None:
                proxy.start()
            url = f"http://{PROXY_USER}:{password}@127.0.0.1:{{port}}"
            trust = (ca_path, bundle_path, managed_vars, wgetrc)
            plan = plan_sandboxed(command, routes, resolve or {}, sandbox, tmp, url, trust)
            if handoff is not None:  # the client starts the sandbox and passes its sockets
                return handoff.sandbox(plan, proxy)
            child = start_sandboxed(plan, proxy)
        return foreground.wait_forwarding(child.pid, caught, sandboxed_pid)
    finally:
        if proxy is not None:
            proxy.stop()
        _remove_run_dir(tmp)
        foreground.restore(previous)
