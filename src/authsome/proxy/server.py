"""The injecting proxy: asyncio + h11 (SPEC §6.1, §6.4, §6.5).

A client connection starts in plain HTTP. Every request must carry the per-run
`Proxy-Authorization` (else 407 on a connection that stays open, so clients such as
git retry on it). Then:

- CONNECT to a host a selected connection's `api_url` covers: TLS is terminated with a
  leaf from the run's CA, and each request inside goes to the real host over verified
  TLS with the auth header set (replaced, never duplicated);
- CONNECT to any other host: a blind TCP tunnel (403 with `--deny-unmatched`);
- a plain `http://` request: forwarded as is, never with a token.

Forwarding one exchange lives in forward.py; the limits (head size, header and idle
timeouts, upstream timeouts) in limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

import h11

from .ca import CertAuthority
from .forward import AuditSink, Forwarder, HeaderSource
from .http11 import (
    NETWORK_ERRORS,
    ClientGone,
    Peer,
    answer,
    answer_error,
    authority,
    drain_body,
    proxy_authorized,
    split_authority,
)
from .limits import Limits
from .routes import RouteTable
from .upstream import Origin, Pool, UpstreamError, UpstreamTimeout, open_stream

PROXY_AUTH_CHALLENGE = (b"proxy-authenticate", b'Basic realm="authsome"')
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
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
        pool.connect_timeout = self.limits.upstream_connect_timeout
        self.forwarder = Forwarder(pool, get_header, self.limits, audit, warn)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0, sock=None) -> int:
        """Listen on host:port, or on an already bound `sock`; returns the port."""
        if sock is not None:
            self._server = await asyncio.start_server(self._client, sock=sock, limit=2**20)
        else:
            self._server = await asyncio.start_server(self._client, host, port, limit=2**20)
        return self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening, end every open connection, and wait for their tasks."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
        self.pool.close()

    # -- the plain-HTTP side facing the child ---------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)  # type: ignore[arg-type]
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = Peer(reader, writer, h11.SERVER, self.limits.max_head)
        try:
            while True:
                event = await self._next_request(peer)
                if event is None:
                    return
                if not proxy_authorized(event.headers, self.credential):
                    await drain_body(peer, self.limits.body_timeout)
                    await answer(peer, 407, "proxy credential required", [PROXY_AUTH_CHALLENGE])
                elif event.method == b"CONNECT":
                    if await self._connect(peer, event):
                        return  # the connection became a tunnel and is finished
                else:
                    await self._plain_http(peer, event)
                if not peer.reusable():
                    return
        except h11.RemoteProtocolError as exc:  # a malformed body from the child
            await answer_error(peer, exc.error_status_hint, "bad request")
        except (*NETWORK_ERRORS, ClientGone, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass  # the run is ending (aclose)
        finally:
            peer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _next_request(self, peer: Peer) -> h11.Request | None:
        """The next request head within the idle and header timeouts, else None (after
        a 408, 431 or 400 where one is due)."""
        limits = self.limits
        try:
            event = await peer.next_head(limits.idle_timeout, limits.header_timeout)
        except TimeoutError:
            if peer.conn.their_state is h11.IDLE and peer.conn.trailing_data[0]:
                with contextlib.suppress(*NETWORK_ERRORS):
                    peer.writer.write(TIMED_OUT)  # a head started and never finished
            return None
        except h11.RemoteProtocolError as exc:
            await answer_error(peer, exc.error_status_hint, "bad request")
            return None
        if not isinstance(event, h11.Request):
            return None
        # h11 bounds only a head that arrives in pieces; one read can hold a whole one.
        fields = event.headers
        if len(event.target) > limits.max_head:
            await answer_error(peer, 414, "request target too long")
            return None
        if len(fields) > limits.max_header_fields:
            await answer_error(peer, 431, "too many header fields")
            return None
        if sum(len(n) + len(v) for n, v in fields) + len(event.target) > limits.max_head:
            await answer_error(peer, 431, "request head too large")
            return None
        return event

    async def _connect(self, peer: Peer, req: h11.Request) -> bool:
        """Handle CONNECT; True when the connection was handed over (tunnel or TLS)."""
        await drain_body(peer, self.limits.body_timeout)
        try:
            host, port = split_authority(req.target.decode("ascii"), 443)
        except (ValueError, UnicodeDecodeError):
            await answer(peer, 400, "bad CONNECT target")
            return False
        if self.routes.intercepts(authority(host, port)):
            await peer.send(h11.Response(status_code=200, headers=[]))
            await self._intercept(peer, host, port)
            return True
        if self.deny_unmatched:
            await answer(peer, 403, f"authsome: {host} is not an API host of a connection")
            return False
        try:
            up_reader, up_writer = await open_stream(
                host, port, self.pool.resolver, None, self.pool.connect_timeout
            )
        except UpstreamError as exc:
            await answer(peer, 504 if isinstance(exc, UpstreamTimeout) else 502, str(exc))
            return False
        await peer.send(h11.Response(status_code=200, headers=[]))
        await _splice(peer, up_reader, up_writer)
        return True

    async def _plain_http(self, peer: Peer, req: h11.Request) -> None:
        url = urlsplit(req.target.decode("ascii", "replace"))
        if url.scheme != "http" or not url.hostname:
            await drain_body(peer, self.limits.body_timeout)
            await answer(peer, 400, "authsome: expected an absolute http:// URL or CONNECT")
            return
        port = url.port or 80
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = list(req.headers)
        if not any(n == b"host" for n, _ in headers):
            headers.append((b"host", url.netloc.encode()))
        forward = h11.Request(method=req.method, target=target.encode(), headers=headers)
        origin = ("http", url.hostname.lower(), port)
        await self.forwarder.forward(peer, forward, origin, route=None)

    # -- the intercepted side ---------------------------------------------------------

    async def _intercept(self, peer: Peer, host: str, port: int) -> None:
        leftover, _ = peer.conn.trailing_data
        if leftover:
            return  # a client that sent TLS before our 200: we cannot splice it in
        try:
            ctx = self.ca.context_for(host)  # a few ms once per host, then cached
            await peer.writer.start_tls(ctx, ssl_handshake_timeout=self.limits.header_timeout)
        except (TimeoutError, *NETWORK_ERRORS):
            return  # the child refused our certificate or went away
        inner = Peer(peer.reader, peer.writer, h11.SERVER, self.limits.max_head)
        origin: Origin = ("https", host, port)
        route_for = self.routes.matcher(authority(host, port))  # one lookup per connection
        try:
            while True:
                event = await self._next_request(inner)
                if event is None:
                    return
                path = event.target.decode("ascii", "replace")
                await self.forwarder.forward(inner, event, origin, route_for(path))
                if not inner.reusable():
                    return
        except h11.RemoteProtocolError as exc:
            await answer_error(inner, exc.error_status_hint, "bad request")


async def _splice(peer: Peer, up_reader: asyncio.StreamReader, up_writer) -> None:
    """Copy bytes both ways until both sides are done (a blind tunnel)."""
    leftover, _ = peer.conn.trailing_data
    if leftover:
        up_writer.write(leftover)

    async def copy(reader: asyncio.StreamReader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except NETWORK_ERRORS:
            writer.close()

    try:
        await asyncio.gather(copy(peer.reader, up_writer), copy(up_reader, peer.writer))
    finally:
        up_writer.close()
