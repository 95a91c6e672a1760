"""Connections from the proxy to real servers: opened over verified TLS (or plain TCP
for http://), honouring `--resolve`, and kept alive in a small pool per origin.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

from .conn import Conn
from .hostguard import HostGuard, ThisMachine
from .http_messages import Reader
from .limits import UPSTREAM_CONNECT_TIMEOUT

IDLE_LIMIT = 8  # idle connections kept per origin
IDLE_SECONDS = 50.0  # below the usual 60 s server keep-alive timeout
# Idle this long, a connection is checked for a close by the server before reuse (the
# shortest common keep-alive timeout, gunicorn's, is 2 s).
CHECK_AFTER = 1.0

Origin = tuple[str, str, int]  # (scheme, host, port)


class UpstreamError(Exception):
    """The real server could not be reached (DNS, refused, TLS verification, timeout)."""


class UpstreamTimeout(UpstreamError):
    """The real server did not connect or answer in time (504, not 502)."""


class UpstreamRefused(UpstreamError):
    """Not ours to reach: this machine, from the sandbox (403, not 502)."""


class Resolver:
    """`--resolve HOST:PORT:ADDR`, as curl does: connections for host:port go to addr."""

    def __init__(self, mapping: dict[tuple[str, int], str] | None = None) -> None:
        self.mapping = {(h.lower(), p): a for (h, p), a in (mapping or {}).items()}

    def address(self, host: str, port: int) -> str:
        return self.mapping.get((host.lower(), port), host)


def upstream_status(exc: UpstreamError) -> int:
    """The status the child gets when the upstream connection could not be made."""
    if isinstance(exc, UpstreamRefused):
        return 403
    return 504 if isinstance(exc, UpstreamTimeout) else 502


def open_socket(
    host: str,
    port: int,
    resolver: Resolver,
    timeout: float = UPSTREAM_CONNECT_TIMEOUT,
    guard: HostGuard | None = None,
) -> socket.socket:
    """A TCP connection to host:port (or where `--resolve` sends it), blocking; with a
    `guard`, never to this machine unless the guard lets host:port through."""
    address = resolver.address(host, port)
    try:
        if guard is None or guard.lets(host, port):
            sock = socket.create_connection((address, port), timeout)
        else:
            sock = _connect_first(guard.addresses(address, port), timeout)
    except ThisMachine as exc:
        raise UpstreamRefused(f"authsome: {exc}") from None
    except OSError as exc:
        raise _failure(host, port, timeout, exc) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    return sock


def _connect_first(addresses: list[tuple], timeout: float) -> socket.socket:
    """The first of getaddrinfo's `addresses` that connects (as create_connection)."""
    error: OSError = OSError("no address")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def open_conn(
    host: str,
    port: int,
    resolver: Resolver,
    tls: ssl.SSLContext | None,
    timeout: float = UPSTREAM_CONNECT_TIMEOUT,
    guard: HostGuard | None = None,
) -> Conn:
    """TCP (and TLS verified against `host`, whatever address it resolved to), the
    handshake within `timeout` too."""
    sock = open_socket(host, port, resolver, timeout, guard)
    if tls is None:
        return Conn(sock, Reader(True))
    try:
        return Conn.tls_over(sock, Reader(True), tls, timeout, server_hostname=host)
    except OSError as exc:
        sock.close()
        raise _failure(host, port, timeout, exc) from None


def _failure(host: str, port: int, timeout: float, exc: OSError) -> UpstreamError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return UpstreamError(f"{host}:{port}: TLS verification failed: {exc.verify_message}")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"{host}:{port}: no connection within {timeout:g} s")
    reason = str(exc) or type(exc).__name__
    return UpstreamError(f"{host}:{port}: cannot connect: {reason}")


class Pool:
    """Keep-alive upstream connections, one list of idle ones per origin; thread-safe.

    Every connection it opened and has not seen closed is in `_open`, so `shutdown`
    can wake the threads blocked on them when the run ends.
    """

    def __init__(
        self,
        resolver: Resolver,
        tls: Callable[[], ssl.SSLContext],
        connect_timeout: float = UPSTREAM_CONNECT_TIMEOUT,
        guard: HostGuard | None = None,
    ) -> None:
        self.resolver = resolver
        self.guard = guard  # for what no route covers: plain http:// and blind tunnels
        self.connect_timeout = connect_timeout
        self._tls_factory = tls
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._idle: dict[Origin, list[tuple[float, Conn]]] = {}
        self._open: set[Conn] = set()

    def tls(self) -> ssl.SSLContext:
        # Built on first use: loading the system store costs time `authsome run` need not
        # spend before the child starts.
        with self._lock:
            if self._tls is None:
                self._tls = self._tls_factory()
            return self._tls

    def acquire(self, origin: Origin) -> tuple[Conn, bool]:
        """A ready connection to `origin`, and whether it was reused from the pool."""
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                since, conn = idle.pop()
                idle_for = now - since
                if idle_for < CHECK_AFTER or (
                    idle_for < IDLE_SECONDS and not _closed_by_peer(conn)
                ):
                    return conn, True
                self._open.discard(conn)
                conn.abort()
        scheme, host, port = origin
        tls = self.tls() if scheme == "https" else None
        guard = self.guard if scheme == "http" else None  # https here: an API host's route
        conn = open_conn(host, port, self.resolver, tls, self.connect_timeout, guard)
        with self._lock:
            self._open.add(conn)
        return conn, False

    def release(self, origin: Origin, conn: Conn) -> None:
        """Back to the pool after a complete exchange (the caller checked), else closed."""
        reader = conn.reader
        if conn.closed or reader.in_message or reader.events:
            self.discard(conn)
            return
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < IDLE_LIMIT:
                idle.append((time.monotonic(), conn))
                return
            self._open.discard(conn)
        conn.close()

    def discard(self, conn: Conn) -> None:
        with self._lock:
            self._open.discard(conn)
        conn.abort()

    def shutdown(self) -> None:
        """Wake every thread blocked on an upstream connection, close the idle ones."""
        with self._lock:
            idle = [conn for entries in self._idle.values() for _, conn in entries]
            busy = [conn for conn in self._open if conn not in set(idle)]
            self._idle.clear()
            self._open.clear()
        for conn in busy:
            conn.shutdown()
        for conn in idle:
            conn.close()


def _closed_by_peer(conn: Conn) -> bool:
    """An idle connection the server has closed (or sent stray bytes on): not reusable."""
    try:
        return conn.poll()
    except (OSError, ValueError):
        return True
