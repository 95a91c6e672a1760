"""`authsome run`: the proxy on a background event loop, the child in the foreground.

The main thread owns the child: it forwards SIGINT, SIGTERM and SIGHUP, waits, and
returns the child's status (128+N for a signal). The proxy runs on an asyncio loop in
a daemon thread. The temporary directory holds only public material (the CA
certificate and the trust bundle) and is removed on every exit path we can catch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence

from authsome.errors import AuthsomeError

from .ca import CertAuthority
from .childenv import child_env, user_ca_files
from .http11 import basic_credential
from .routes import RouteTable
from .server import AuditSink, HeaderSource, ProxyServer
from .upstream import Pool, Resolver

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
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
    """An event loop in a daemon thread serving the proxy until `stop()`."""

    def __init__(self, make_server: Callable[[], ProxyServer]) -> None:
        self._make_server = make_server
        self._loop = asyncio.new_event_loop()
        self._ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="authsome-proxy", daemon=True)

    def start(self) -> int:
        self._thread.start()
        return self._ready.result(timeout=30)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        try:
            server = self._make_server()
            port = await server.start()
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._stop = asyncio.Event()
        self._ready.set_result(port)
        await self._stop.wait()
        await server.aclose()

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(5)


def exit_status(returncode: int) -> int:
    """The shell's convention: a child killed by signal N gives 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def run(
    command: Sequence[str],
    routes: RouteTable,
    get_header: HeaderSource,
    managed_vars: Sequence[str] = (),
    resolve: dict[tuple[str, int], str] | None = None,
    deny_unmatched: bool = False,
    audit: AuditSink | None = None,
    tls: Callable[[], ssl.SSLContext] | None = None,
) -> int:
    """Run `command` under the proxy; returns the exit status to exit with."""
    if tls is None:
        from authsome.oauth.tls import ssl_context as tls

    caught: list[int] = []
    child: subprocess.Popen | None = None

    def on_signal(signum: int, _frame) -> None:
        if child is not None and child.returncode is None:
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                pass
        else:
            caught.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in FORWARDED}
    ca = CertAuthority(routes.names())
    tmp = tempfile.mkdtemp(prefix="authsome-run-")  # 0700
    password = secrets.token_urlsafe(24)
    proxy = ProxyThread(
        lambda: ProxyServer(
            routes,
            get_header,
            ca,
            Pool(Resolver(resolve), tls),
            basic_credential(PROXY_USER, password),
            deny_unmatched=deny_unmatched,
            audit=audit,
        )
    )
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
    except concurrent.futures.TimeoutError:
        raise AuthsomeError("the proxy did not start")
    finally:
        proxy.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
