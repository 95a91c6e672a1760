"""The injecting proxy: a thread per client connection, blocking sockets, httptools
(SPEC §6.1, §6.4, §6.5).

A client connection starts in plain HTTP. Every request must carry the per-run
`Proxy-Authorization` (else 407 on a connection that stays open, so clients such as
git retry on it). Then:

- CONNECT to a host a selected connection's `api_url` covers: TLS is terminated with a
  leaf from the run's CA, and each request inside goes to the real host over verified
  TLS with the auth header set (replaced, never duplicated);
- CONNECT to any other host: a blind TCP tunnel (403 with `--deny-unmatched`);
- a plain `http://` request: forwarded as is, never with a token.

Why threads: one child rarely holds more than a few connections, and a blocking
exchange is a handful of system calls with OpenSSL on the socket itself; asyncio's
TLS (memory BIOs in Python) alone cost more than a third of the throughput here.
Forwarding one exchange lives in forward.py; the limits in limits.py.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

from .addressed import check_addressed
from .ca import CertAuthority
from .conn import NETWORK_ERRORS, Closed, Conn
from .forward import AuditSink, Forwarder, HeaderSource, answer, answer_error, drain_body
from .http_messages import Head, ParseError, Reader, Upgrade
from .http_rules import ClientGone, authority, proxy_authorized, split_authority
from .limits import Limits
from .routes import RouteTable
from .tunnel import splice_sockets
from .upstream import Pool, UpstreamError, open_socket, upstream_status

PROXY_AUTH_CHALLENGE = (b"proxy-authenticate", b'Basic realm="authsome"')
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"
SHUTDOWN_GRACE = 2.0  # seconds open connections get to finish when the run ends


def _warn(message: str) -> None:
    print(f"authsome run: {message}", file=sys.stderr, flush=True)


class ProxyServer:
    def __init__(
        self,
        routes: RouteTable,
        get_header: HeaderSource,
        ca: CertAuthority,
        pool: Pool,
        credential: bytes,
        deny_unmatched: bool = False,
        audit: AuditSink | None = None,
        warn: Callable[[str], None] = _warn,
        limits: Limits | None = None,
    ) -> None:
        self.routes = routes
        self.ca = ca
        self.pool = pool
        self.credential = credential  # the full expected Proxy-Authorization value
        self.deny_unmatched = deny_unmatched
        self.limits = limits or Limits()
        self.warn = warn
        pool.connect_timeout = self.limits.upstream_connect_timeout
        self.forwarder = Forwarder(pool, get_header, self.limits, audit, warn)
        self._sock: socket.socket | None = None
        self._socks: list[socket.socket] = []  # every listening socket, to close at the end
        self._closing = False
        self._lock = threading.Lock()
        self._live: set[Conn] = set()  # client-side connections, to wake them at close
        self._threads: set[threading.Thread] = set()
        self._acceptor: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0, sock=None) -> int:
        """Listen on host:port, or on an already bound `sock`; returns the port. Serving
        happens on daemon threads."""
        if sock is None:
            sock = socket.create_server((host, port), backlog=128)
        self._acceptor = threading.Thread(
            target=self.serve, args=(sock,), name="authsome-proxy", daemon=True
        )
        self._acceptor.start()
        return sock.getsockname()[1]

    def serve(self, sock: socket.socket, handle: Callable[[socket.socket], None] | None = None):
        """Accept connections on `sock` until `close` (on the calling thread); each is
        served by `handle` on a thread of its own (default: as an HTTP proxy)."""
        handle = handle or self._client
        with self._lock:
            self._socks.append(sock)
        if self._sock is None:
            self._sock = sock
        while not self._closing:
            try:
                conn, _ = sock.accept()
            except OSError:
                if self._closing:
                    return
                threading.Event().wait(0.05)  # out of fds: let some close first
                continue
            thread = threading.Thread(target=handle, args=(conn,), daemon=True)
            with self._lock:
                self._threads.add(thread)
            try:
                thread.start()
            except RuntimeError:  # no thread to be had: this client is refused, not the run
                with self._lock:
                    self._threads.discard(thread)
                conn.close()
                self.warn("proxy: out of threads; a connection was refused")
                threading.Event().wait(0.05)

    def close(self) -> None:
        """Stop listening, end every open connection, and wait a little for their threads."""
        self._closing = True
        with self._lock:
            listening = list(self._socks)
        for sock in listening:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
            except OSError:
                pass
        with self._lock:
            live, threads = list(self._live), list(self._threads)
        for conn in live:
            conn.shutdown()
        self.pool.shutdown()
        if self._acceptor is not None:
            self._acceptor.join(SHUTDOWN_GRACE)
        for thread in threads:
            thread.join(SHUTDOWN_GRACE / max(1, len(threads)))
        for sock in listening:
            sock.close()

    def active(self) -> int:
        """Client connections still being served."""
        with self._lock:
            return len(self._threads)

    def _track(self, conn: Conn, on: bool) -> None:
        with self._lock:
            if on:
                self._live.add(conn)
            else:
                self._live.discard(conn)
        if on and self._closing:
            conn.shutdown()

    # -- the plain-HTTP side facing the child ---------------------------------------

    def _client(self, sock: socket.socket) -> None:
        limits = self.limits
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        conn = Conn(sock, Reader(False, limits.max_head, limits.max_header_fields))
        self._track(conn, True)
        try:
            while True:
                head = self._next_request(conn)
                if head is None:
                    return
                if not proxy_authorized(head.headers, self.credential):
                    drain_body(conn, limits.body_timeout)
                    if head.method == b"CONNECT":
                        _refused_tunnel(conn)
                    answer(
                        conn, 407, "proxy credential required", limits.idle_timeout,
                        [PROXY_AUTH_CHALLENGE],
                    )  # fmt: skip
                    keep = head.keep_alive
                elif head.method == b"CONNECT":
                    keep = self._connect(conn, head)
                else:
                    keep = self._plain_http(conn, head)
                if not keep:
                    return
        except (ClientGone, Closed, ParseError, *NETWORK_ERRORS):
            pass
        except Exception as exc:  # a bug must cost one connection, not the run
            self.warn(f"proxy: internal error: {type(exc).__name__}: {exc}")
        finally:
            self._track(conn, False)
            conn.close()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _next_request(self, conn: Conn) -> Head | None:
        """The next request head within the idle and header timeouts, else None (after
        a 408, 431, 414 or 400 where one is due)."""
        limits = self.limits
        try:
            event = conn.next_head(limits.idle_timeout, limits.header_timeout)
        except TimeoutError:
            if conn.reader.in_message:  # a head started and never finished
                try:
                    conn.send(TIMED_OUT, 5.0)
                except NETWORK_ERRORS:
                    pass
            return None
        except ParseError as exc:
            answer_error(conn, exc.status, str(exc) if exc.status != 400 else "bad request")
            return None
        return event if isinstance(event, Head) else None

    def _connect(self, conn: Conn, req: Head) -> bool:
        """Handle CONNECT; True if the connection stays a plain proxy connection."""
        drain_body(conn, self.limits.body_timeout)
        timeout = self.limits.idle_timeout
        try:
            host, port = split_authority(req.target.decode("ascii"), 443)
        except (ValueError, UnicodeDecodeError):
            _refused_tunnel(conn)
            answer(conn, 400, "bad CONNECT target", timeout)
            return req.keep_alive
        if self.routes.intercepts(authority(host, port)):
            conn.send(ESTABLISHED, timeout)
            if not _tunnel_bytes(conn):  # else TLS sent before our 200: cannot splice it in
                self._intercept(conn, host, port)
            return False
        if self.deny_unmatched:
            _refused_tunnel(conn)
            answer(conn, 403, f"authsome: {host} is not an API host of a connection", timeout)
            return req.keep_alive
        pool = self.pool
        try:
            up = open_socket(host, port, pool.resolver, pool.connect_timeout, pool.guard)
        except UpstreamError as exc:
            _refused_tunnel(conn)
            answer(conn, upstream_status(exc), str(exc), timeout)
            return req.keep_alive
        conn.send(ESTABLISHED, timeout)
        self._splice(conn, up, _tunnel_bytes(conn))
        return False

    def _plain_http(self, conn: Conn, req: Head) -> bool:
        url = urlsplit(req.target.decode("ascii", "replace"))
        if url.scheme != "http" or not url.hostname:
            drain_body(conn, self.limits.body_timeout)
            text = "authsome: expected an absolute http:// URL or CONNECT"
            answer(conn, 400, text, self.limits.idle_timeout)
            return req.keep_alive
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        forward = _copy_head(req)
        forward.target = target.encode()
        if not any(n == b"host" for n, _ in req.headers):
            forward.headers = [*req.headers, (b"host", url.netloc.encode())]
        origin = ("http", url.hostname.lower(), url.port or 80)
        return self.forwarder.forward(conn, forward, origin, route=None)

    # -- the intercepted side ---------------------------------------------------------

    def _intercept(self, conn: Conn, host: str, port: int) -> None:
        limits = self.limits
        reader = Reader(False, limits.max_head, limits.max_header_fields)
        try:
            ctx = self.ca.context_for(host)  # a few ms once per host, then cached
            inner = Conn.tls_over(conn.sock, reader, ctx, limits.header_timeout, server_side=True)
        except (ValueError, *NETWORK_ERRORS):
            return  # the child refused our certificate or went away
        self._serve_intercepted(inner, host, port)

    # -- the sandbox's listeners (SPEC §6.11) -----------------------------------------

    def direct(self, port: int) -> Callable[[socket.socket], None]:
        """A handler for TLS sent straight to an API host's name (resolved inside the
        sandbox to us) on `port`: the route is chosen by SNI, as for a CONNECT to that
        host:port; a name we do not intercept ends the handshake."""
        return partial(self._guarded, partial(self._direct, port))

    def relay(self, port: int) -> Callable[[socket.socket], None]:
        """A handler relaying bytes to the host's 127.0.0.1:`port` (--allow-host-port)."""
        return partial(self._guarded, partial(self._relay, port))

    def _direct(self, port: int, sock: socket.socket) -> None:
        limits = self.limits
        chosen: list[str] = []

        def pick(tls, name: str | None, _ctx) -> int | None:
            host = (name or "").lower().rstrip(".")
            if not host or not self.routes.intercepts(authority(host, port)):
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            tls.context = self.ca.context_for(host)
            chosen.append(host)
            return None

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # as CertAuthority.context_for's
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.sni_callback = pick
        reader = Reader(False, limits.max_head, limits.max_header_fields)
        try:
            inner = Conn.tls_over(sock, reader, ctx, limits.header_timeout, server_side=True)
        except (ValueError, *NETWORK_ERRORS):
            sock.close()
            return  # no SNI, a host of no connection, or the client went away
        self._serve_intercepted(inner, chosen[0], port)

    def _relay(self, port: int, sock: socket.socket) -> None:
        try:
            up = socket.create_connection(("127.0.0.1", port), self.pool.connect_timeout)
        except OSError:
            sock.close()
            return
        self._splice(Conn(sock, Reader(False)), up, b"")

    def _guarded(self, handle: Callable[[socket.socket], None], sock: socket.socket) -> None:
        try:
            handle(sock)
        except Exception as exc:  # a bug must cost one connection, not the run
            self.warn(f"proxy: internal error: {type(exc).__name__}: {exc}")
        finally:
            sock.close()
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _serve_intercepted(self, inner: Conn, host: str, port: int) -> None:
        """The requests of one intercepted TLS connection to host:port, each forwarded
        with the token of the route its path falls under."""
        self._track(inner, True)
        origin = ("https", host, port)
        route_for = self.routes.matcher(authority(host, port))  # one lookup per connection
        try:
            while True:
                head = self._next_request(inner)
                if head is None:
                    return
                path = _origin_path(head.target.decode("ascii", "replace"))
                refusal = check_addressed((host, port), head.method, head.target, head.headers)
                if refusal is not None:
                    if not self.forwarder.refuse(inner, head, refusal, route_for(path)):
                        return
                elif not self.forwarder.forward(inner, head, origin, route_for(path)):
                    return
        finally:
            self._track(inner, False)
            inner.close()

    def _splice(self, conn: Conn, up: socket.socket, rest: bytes) -> None:
        """A blind tunnel, tracked so that the end of the run ends it."""
        upstream = Conn(up, Reader(True))
        self._track(upstream, True)
        try:
            splice_sockets(conn.sock, up, rest)
        except OSError:
            pass
        finally:
            self._track(upstream, False)
            upstream.abort()


def _tunnel_bytes(conn: Conn) -> bytes:
    """What the client sent after its CONNECT head (before our answer)."""
    events = conn.reader.events
    return events.popleft().rest if events and isinstance(events[0], Upgrade) else b""


def _refused_tunnel(conn: Conn) -> None:
    """No tunnel after all: what followed the CONNECT is the next request."""
    rest = _tunnel_bytes(conn)
    if rest:
        conn.reader.feed(rest)


def _origin_path(target: str) -> str:
    """The path of an origin-form or absolute-form target (for route matching)."""
    if target.startswith("/"):
        return target
    _, _, rest = target.partition("://")
    return "/" + rest.partition("/")[2]


def _copy_head(head: Head) -> Head:
    out = Head()
    for name in Head.__slots__:
        setattr(out, name, getattr(head, name))
    return out
