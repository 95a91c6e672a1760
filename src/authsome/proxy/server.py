"""The injecting proxy: asyncio + h11 (SPEC §6.1, §6.4, §6.5).

A client connection starts in plain HTTP. Every request must carry the per-run
`Proxy-Authorization` (else 407 on a connection that stays open, so clients such as
git retry on it). Then:

- CONNECT to a host a selected connection's `api_url` covers: TLS is terminated with a
  leaf from the run's CA, and each request inside goes to the real host over verified
  TLS with the auth header set (replaced, never duplicated);
- CONNECT to any other host: a blind TCP tunnel (403 with `--deny-unmatched`);
- a plain `http://` request: forwarded as is, never with a token.

Bodies stream in both directions, event by event: nothing is buffered whole except
the (small) body of a GET/HEAD that may be retried once after a 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import h11

from authsome.errors import AuthsomeError

from .ca import CertAuthority
from .http11 import (
    HeaderRefused,
    Headers,
    Peer,
    authority,
    proxy_authorized,
    set_header,
    simple_response,
    split_authority,
    strip_hop_by_hop,
)
from .routes import RouteTable
from .upstream import Origin, Pool, UpstreamError, open_stream

# (provider, connection, force_refresh) -> (header name, header value)
HeaderSource = Callable[[str, str, bool], Awaitable[tuple[str, str]]]
AuditSink = Callable[..., None]

RETRY_BODY_LIMIT = 1 << 20  # a GET/HEAD body we keep for the retry after a 401
PROXY_AUTH_CHALLENGE = (b"proxy-authenticate", b'Basic realm="authsome"')
NETWORK_ERRORS = (ConnectionError, OSError, asyncio.IncompleteReadError, h11.ProtocolError)


class ClientGone(Exception):
    """The child closed its side mid-exchange."""


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
    ) -> None:
        self.routes = routes
        self.get_header = get_header
        self.ca = ca
        self.pool = pool
        self.credential = credential  # the full expected Proxy-Authorization value
        self.deny_unmatched = deny_unmatched
        self.audit = audit
        self.warn = warn
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0, sock=None) -> int:
        """Listen on host:port, or on an already bound `sock`; returns the port."""
        if sock is not None:
            self._server = await asyncio.start_server(self._client, sock=sock, limit=2**20)
        else:
            self._server = await asyncio.start_server(self._client, host, port, limit=2**20)
        return self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        self.pool.close()

    # -- the plain-HTTP side facing the child ---------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = Peer(reader, writer, h11.SERVER)
        try:
            while True:
                event = await peer.next_event()
                if not isinstance(event, h11.Request):
                    return
                if not proxy_authorized(event.headers, self.credential):
                    await self._drain_body(peer)
                    await self._answer(
                        peer, 407, "proxy credential required", [PROXY_AUTH_CHALLENGE]
                    )
                elif event.method == b"CONNECT":
                    if await self._connect(peer, event):
                        return  # the connection became a tunnel and is finished
                else:
                    await self._plain_http(peer, event)
                if not peer.reusable():
                    return
        except h11.RemoteProtocolError as exc:
            await self._answer_error(peer, exc.error_status_hint, "bad request")
        except (*NETWORK_ERRORS, ClientGone):
            pass
        finally:
            peer.close()
            self._writers.discard(writer)

    async def _connect(self, peer: Peer, req: h11.Request) -> bool:
        """Handle CONNECT; True when the connection was handed over (tunnel or TLS)."""
        try:
            host, port = split_authority(req.target.decode("ascii"), 443)
        except (ValueError, UnicodeDecodeError):
            await self._drain_body(peer)
            await self._answer(peer, 400, "bad CONNECT target")
            return False
        await self._drain_body(peer)
        if self.routes.intercepts(authority(host, port)):
            await peer.send(h11.Response(status_code=200, headers=[]))
            await self._intercept(peer, host, port)
            return True
        if self.deny_unmatched:
            await self._answer(peer, 403, f"authsome: {host} is not an API host of a connection")
            return False
        try:
            up_reader, up_writer = await self._open_tunnel(host, port)
        except UpstreamError as exc:
            await self._answer(peer, 502, str(exc))
            return False
        await peer.send(h11.Response(status_code=200, headers=[]))
        await _splice(peer, up_reader, up_writer)
        return True

    async def _open_tunnel(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await open_stream(host, port, self.pool.resolver, None)

    async def _plain_http(self, peer: Peer, req: h11.Request) -> None:
        url = urlsplit(req.target.decode("ascii", "replace"))
        if url.scheme != "http" or not url.hostname:
            await self._drain_body(peer)
            await self._answer(peer, 400, "authsome: expected an absolute http:// URL or CONNECT")
            return
        port = url.port or 80
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = list(req.headers)
        if not any(n == b"host" for n, _ in headers):
            headers.append((b"host", url.netloc.encode()))
        forward = h11.Request(method=req.method, target=target.encode(), headers=headers)
        await self._forward(peer, forward, ("http", url.hostname.lower(), port), route=None)

    # -- the intercepted side ---------------------------------------------------------

    async def _intercept(self, peer: Peer, host: str, port: int) -> None:
        leftover, _ = peer.conn.trailing_data
        if leftover:
            return  # a client that sent TLS before our 200: we cannot splice it in
        try:
            ctx = self.ca.context_for(host)  # a few ms once per host, then cached
            await peer.writer.start_tls(ctx)
        except (TimeoutError, *NETWORK_ERRORS):
            return  # the child refused our certificate or went away
        inner = Peer(peer.reader, peer.writer, h11.SERVER)
        origin: Origin = ("https", host, port)
        hostport = authority(host, port)
        try:
            while True:
                event = await inner.next_event()
                if not isinstance(event, h11.Request):
                    return
                path = event.target.decode("ascii", "replace")
                route = self.routes.match(hostport, path)
                await self._forward(inner, event, origin, route)
                if not inner.reusable():
                    return
        except h11.RemoteProtocolError as exc:
            await self._answer_error(inner, exc.error_status_hint, "bad request")
        finally:
            inner.close()

    # -- forwarding one exchange ----------------------------------------------------

    async def _forward(
        self, peer: Peer, req: h11.Request, origin: Origin, route: tuple[str, str] | None
    ) -> None:
        headers = strip_hop_by_hop(req.headers)
        if peer.conn.they_are_waiting_for_100_continue:
            peer.send_nowait(h11.InformationalResponse(status_code=100, headers=[]))
        header = None
        if route is not None:
            try:
                header = await self.get_header(route[0], route[1], False)
                headers = set_header(headers, *header)
            except (AuthsomeError, HeaderRefused) as exc:
                await self._drain_body(peer)
                self.warn(f"{route[0]}/{route[1]}: {exc}")
                await self._answer(peer, 502, f"authsome: {route[0]}: {exc}")
                return
        retryable = route is not None and req.method in (b"GET", b"HEAD")
        body: list[bytes] | None = await self._read_body(peer) if retryable else None
        if body is None:
            retryable = False
        status, retried = 0, False
        while True:
            up, reused = await self._acquire(peer, origin)
            if up is None:
                return
            out = h11.Request(method=req.method, target=req.target, headers=headers)
            try:
                resp, pump = await self._exchange(peer, up, out, body)
            except UpstreamError:
                up.close()
                if reused and body is not None:
                    continue  # a stale keep-alive connection: try once more on a fresh one
                await self._answer_error(peer, 502, f"authsome: {origin[1]} closed the connection")
                return
            status = resp.status_code
            if status == 401 and retryable and not retried and route is not None:
                fresh = await self._refreshed(route)
                if fresh is not None:
                    retried, header = True, fresh
                    headers = set_header(headers, *fresh)
                    await self._discard(up, origin)
                    continue
            break
        try:
            await self._relay(peer, up, resp)
        finally:
            if pump is not None and not pump.done():
                # The upstream answered without reading the whole body: neither side of
                # this exchange can be reused.
                pump.cancel()
                up.close()
                peer.close()
            if route is not None:
                self._audit(route, req, origin, status)
        if pump is not None and pump.done() and not pump.cancelled() and pump.exception():
            up.close()
            raise ClientGone()
        self.pool.release(origin, up)

    def _audit(self, route: tuple[str, str], req: h11.Request, origin: Origin, status: int) -> None:
        if self.audit is None:
            return
        try:
            self.audit(
                "proxy_request",
                provider=route[0],
                connection=route[1],
                method=req.method.decode("ascii", "replace"),
                host=origin[1],
                path=req.target.decode("ascii", "replace").split("?", 1)[0],
                status=status,
            )
        except Exception as exc:  # an audit failure must be seen, not kill the request
            self.warn(f"audit log: {exc}")

    async def _acquire(self, peer: Peer, origin: Origin) -> tuple[Peer | None, bool]:
        try:
            return await self.pool.acquire(origin)
        except UpstreamError as exc:
            await self._drain_body(peer)
            await self._answer_error(peer, 502, f"authsome: {exc}")
            return None, False

    async def _exchange(
        self, peer: Peer, up: Peer, req: h11.Request, body: list[bytes] | None
    ) -> tuple[h11.Response, asyncio.Task | None]:
        """Send the request (body from `body`, else streamed from the child, concurrently)
        and read the upstream's response head, skipping 1xx. UpstreamError if it fails."""
        pump: asyncio.Task | None = None
        try:
            await up.send(req)
            if body is not None:
                for chunk in body:
                    await up.send(h11.Data(data=chunk))
                await up.send(h11.EndOfMessage())
            elif up.conn.our_state is h11.SEND_BODY:
                # Full duplex: a server may answer (413, 401) before the body is done.
                pump = asyncio.create_task(self._pump_body(peer, up))
            else:
                await self._drain_body(peer)
            while True:
                event = await up.next_event()
                if isinstance(event, h11.Response):
                    if pump is not None:
                        # Give a finishing upload a chance to complete before relaying.
                        await asyncio.wait([pump], timeout=0)
                    return event, pump
                if not isinstance(event, h11.InformationalResponse):
                    raise UpstreamError("no response")
        except (*NETWORK_ERRORS, ClientGone) as exc:
            if pump is not None:
                pump.cancel()
            if isinstance(exc, ClientGone):
                raise
            raise UpstreamError(str(exc))

    async def _pump_body(self, peer: Peer, up: Peer) -> None:
        while True:
            event = await peer.next_event()
            if isinstance(event, h11.Data):
                await up.send(h11.Data(data=event.data))
            elif isinstance(event, h11.EndOfMessage):
                await up.send(h11.EndOfMessage())
                return
            else:
                raise ClientGone()

    async def _relay(self, peer: Peer, up: Peer, resp: h11.Response) -> None:
        """Stream the response to the child, each upstream chunk as soon as it arrives."""
        headers = strip_hop_by_hop(resp.headers)
        await peer.send(
            h11.Response(status_code=resp.status_code, headers=headers, reason=resp.reason)
        )
        while True:
            try:
                event = await up.next_event()
            except NETWORK_ERRORS:
                event = None
            if isinstance(event, h11.Data):
                await peer.send(h11.Data(data=event.data))
            elif isinstance(event, h11.EndOfMessage):
                await peer.send(h11.EndOfMessage())
                return
            else:  # upstream died mid-body: the child must see a truncated message
                up.close()
                raise ClientGone()

    async def _refreshed(self, route: tuple[str, str]) -> tuple[str, str] | None:
        try:
            return await self.get_header(route[0], route[1], True)
        except AuthsomeError as exc:
            self.warn(f"{route[0]}/{route[1]}: refresh after 401 failed: {exc}")
            return None

    async def _discard(self, up: Peer, origin: Origin) -> None:
        """Read and drop a response body so the connection can be reused (or close it)."""
        size = 0
        try:
            while True:
                event = await up.next_event()
                if isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > RETRY_BODY_LIMIT:
                        break
                elif isinstance(event, h11.EndOfMessage):
                    self.pool.release(origin, up)
                    return
                else:
                    break
        except NETWORK_ERRORS:
            pass
        up.close()

    # -- small helpers --------------------------------------------------------------

    async def _read_body(self, peer: Peer) -> list[bytes] | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await peer.next_event()
            if isinstance(event, h11.Data):
                chunks.append(event.data)
                size += len(event.data)
                if size > RETRY_BODY_LIMIT:
                    raise ClientGone()  # a GET with a megabyte body: not worth serving
            elif isinstance(event, h11.EndOfMessage):
                return chunks
            else:
                raise ClientGone()

    async def _drain_body(self, peer: Peer) -> None:
        while peer.conn.their_state is h11.SEND_BODY:
            event = await peer.next_event()
            if isinstance(event, h11.ConnectionClosed):
                raise ClientGone()

    async def _answer(self, peer: Peer, status: int, text: str, extra: Headers = ()) -> None:
        resp, body = simple_response(status, text, list(extra))
        await peer.send(resp)
        if body:
            await peer.send(h11.Data(data=body))
        await peer.send(h11.EndOfMessage())

    async def _answer_error(self, peer: Peer, status: int, text: str) -> None:
        """An error answer if the response has not started, else cut the connection."""
        if peer.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            with contextlib.suppress(*NETWORK_ERRORS):
                await self._answer(peer, status, text, [(b"connection", b"close")])
        peer.close()


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
