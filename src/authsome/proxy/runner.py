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
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence

from .ca import CertAuthority
from .childenv import child_env, user_ca_files
from .routes import RouteTable

# The server's modules load in the proxy thread while the child starts: the listening
# socket is bound here first, so early connections wait in its backlog.

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FROM_TERMINAL = (signal.SIGINT, signal.SIGHUP)  # what a terminal sends its foreground group
PROXY_USER = "authsome"
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


def system_roots() -> bytes:
    """The PEM roots the system's OpenSSL trusts (empty if it keeps only a hashed dir)."""
    paths = ssl.get_default_verify_paths()
    for path in (paths.openssl_cafile, paths.cafile, *SYSTEM_BUNDLES):
        if path and os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    return b""


def write_trust(directory: str, ca_pem: bytes, env: Mapping[str, str]) -> tuple[str, str]:
    """ca.pem and bundle.pem (system roots + the user's own CA files + our CA), 0600."""
    parts = [system_roots()]
    for path in user_ca_files(env):
        try:
            with open(path, "rb") as f:
                parts.append(f.read())
        except OSError:
            pass  # a stale variable the child would not have been able to use either
    parts.append(ca_pem)
    out = []
    for name, data in (("ca.pem", ca_pem), ("bundle.pem", b"\n".join(p.strip() for p in parts))):
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data.strip() + b"\n")
        out.append(path)
    return out[0], out[1]


class ProxyThread:
    """The proxy's accept loop on a daemon thread, serving a pre-bound socket."""

    def __init__(self, make_server: Callable[[], object]) -> None:
        self._make_server = make_server
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self._server = None
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="authsome-proxy", daemon=True)

    def start(self) -> int:
        self._thread.start()
        return self.port

    def _run(self) -> None:
        try:
            server = self._make_server()
            with self._lock:
                if self._stopping:
                    return
                self._server = server
            server.serve(self._sock)  # type: ignore[attr-defined]
        except Exception as exc:  # the child then sees refused requests; say why
            if not self._stopping:
                print(f"authsome run: the proxy stopped: {exc}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            server = self._server
        if server is not None:
            server.close()  # type: ignore[attr-defined]
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes an accept() close() missed
        except OSError:
            pass
        self._sock.close()
        self._thread.join(5)


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


def run(
    command: Sequence[str],
    routes: RouteTable,
    get_header: Callable,
    managed_vars: Sequence[str] = (),
    resolve: dict[tuple[str, int], str] | None = None,
    deny_unmatched: bool = False,
    audit: Callable[..., None] | None = None,
    tls: Callable[[], ssl.SSLContext] | None = None,
) -> int:
    """Run `command` under the proxy; returns the exit status to exit with."""
    if tls is None:
        from authsome.oauth.tls import ssl_context as tls

    caught: list[int] = []
    child: subprocess.Popen | None = None

    def on_signal(signum: int, _frame) -> None:
        if child is not None and child.returncode is None:
            if signum in FROM_TERMINAL and terminal_signals_child(child.pid):
                return  # the terminal sent it to the child as well: once is enough
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                pass
        else:
            caught.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in FORWARDED}
    ca = CertAuthority(routes.names())
    tmp = tempfile.mkdtemp(prefix="authsome-run-")  # 0700
    password = base64.urlsafe_b64encode(os.urandom(24)).decode()  # `secrets` costs 6 ms

    def make_server():
        from .http11 import basic_credential
        from .server import ProxyServer
        from .upstream import Pool, Resolver

        return ProxyServer(
            routes,
            get_header,
            ca,
            Pool(Resolver(resolve), tls),
            basic_credential(PROXY_USER, password),
            deny_unmatched=deny_unmatched,
            audit=audit,
        )

    proxy = ProxyThread(make_server)
    try:
        ca_path, bundle_path = write_trust(tmp, ca.cert_pem, os.environ)
        port = proxy.start()
        url = f"http://{PROXY_USER}:{password}@127.0.0.1:{port}"
        env = child_env(os.environ, url, ca_path, bundle_path, managed_vars)
        if caught:
            return 128 + caught[0]  # told to stop before the child existed
        try:
            child = subprocess.Popen(list(command), env=env)
        except FileNotFoundError:
            print(f"authsome run: {command[0]}: command not found", file=sys.stderr)
            return 127
        except PermissionError:
            print(f"authsome run: {command[0]}: permission denied", file=sys.stderr)
            return 126
        for signum in caught:
            child.send_signal(signum)
        return exit_status(child.wait())
    finally:
        proxy.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
