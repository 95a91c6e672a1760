"""Forwarding one request/response exchange to the real server (SPEC §6.1, §6.5).

Bodies stream in both directions, event by event: nothing is buffered whole except
the (small) body of a GET/HEAD that may be retried once after a 401. Every way out of
`Forwarder.forward` leaves the upstream connection either back in the pool, in a clean
state, or closed, and the body pump (if one was needed) finished and its outcome read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import h11

from authsome.errors import AuthsomeError

from .http11 import (
    NETWORK_ERRORS,
    ClientGone,
    HeaderRefused,
    Peer,
    answer,
    answer_error,
    drain_body,
    encode_header,
    end_to_end,
    forwarded_request,
    forwarded_response,
    take_buffered_body,
)
from .limits import HIGH_WATER, Limits
from .upstream import Origin, Pool, UpstreamError, UpstreamTimeout

# (provider, connection, force_refresh) -> (header name, header value)
HeaderSource = Callable[[str, str, bool], Awaitable[tuple[str, str]]]
AuditSink = Callable[..., None]
Route = tuple[str, str]

RETRY_BODY_LIMIT = 1 << 20  # a GET/HEAD body we keep for the retry after a 401
# A stale pooled connection is retried on a fresh one only for these (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
UPLOAD_FINISH = 1.0  # after the answer, how long an upload may take to finish sending


class Forwarder:
    def __init__(
        self,
        pool: Pool,
        get_header: HeaderSource,
        limits: Limits,
        audit: AuditSink | None,
        warn: Callable[[str], None],
    ) -> None:
        self.pool = pool
        self.get_header = get_header
        self.limits = limits
        self.audit = audit
        self.warn = warn
        # (name, value) -> encoded and checked; the same token serves many requests
        self._encoded: dict[tuple[str, str], tuple[bytes, bytes]] = {}

    async def forward(self, peer: Peer, req: h11.Request, origin: Origin, route: Route | None):
        """Send `req` (its body read from `peer`) to `origin` and relay the answer."""
        if peer.conn.they_are_waiting_for_100_continue:
            peer.send_nowait(h11.InformationalResponse(status_code=100, headers=[]))
        inject = None
        if route is not None:
            try:
                inject = self._encode(await self.get_header(route[0], route[1], False))
            except (AuthsomeError, HeaderRefused) as exc:
                await drain_body(peer, self.limits.body_timeout)
                self.warn(f"{route[0]}/{route[1]}: {exc}")
                await answer(peer, 502, f"authsome: {route[0]}: {exc}")
                return
        headers = end_to_end(req.headers, inject[0].lower() if inject else b"")
        retryable = route is not None and req.method in (b"GET", b"HEAD")
        if retryable:
            body, complete = await self._read_body(peer), True
        else:
            body, complete = take_buffered_body(peer)
        up: Peer | None = None
        pump: asyncio.Task | None = None
        status, clean = 0, False
        try:
            retried = False
            while True:
                up, reused = await self._acquire(peer, origin)
                if up is None:
                    return
                out = forwarded_request(
                    req.method, req.target, [*headers, inject] if inject else headers
                )
                try:
                    resp, pump = await self._exchange(peer, up, out, body, complete)
                except UpstreamError as exc:
                    up.abort()
                    up = None
                    if reused and complete and req.method in IDEMPOTENT:
                        continue  # a stale keep-alive connection: once more on a fresh one
                    if isinstance(exc, UpstreamTimeout):
                        await answer_error(peer, 504, f"authsome: {origin[1]}: {exc}")
                    else:
                        await answer_error(peer, 502, f"authsome: {origin[1]}: {exc}")
                    return
                status = resp.status_code
                if status == 401 and retryable and not retried and route is not None:
                    fresh = await self._refreshed(route)
                    if fresh is not None:
                        retried, inject = True, fresh
                        await self._discard(up, origin)
                        up = None
                        continue
                break
            await self._relay(peer, up, resp)
            if pump is not None and not await self._upload_finished(peer, pump):
                peer.close()  # answered before the whole body: neither side can be reused
                return
            clean = True
        finally:
            if pump is not None:
                await _settle(pump)
            if up is not None:
                if clean:
                    self.pool.release(origin, up)
                else:
                    up.abort()
            if route is not None and status:
                self._audit(route, req, origin, status)

    def _encode(self, header: tuple[str, str]) -> tuple[bytes, bytes]:
        hit = self._encoded.get(header)
        if hit is None:
            if len(self._encoded) > 64:
                self._encoded.clear()
            hit = self._encoded[header] = encode_header(*header)
        return hit

    def _audit(self, route: Route, req: h11.Request, origin: Origin, status: int) -> None:
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
            await drain_body(peer, self.limits.body_timeout)
            await answer_error(peer, 504 if isinstance(exc, UpstreamTimeout) else 502, str(exc))
            return None, False

    async def _exchange(
        self, peer: Peer, up: Peer, req: h11.Request, body: list, complete: bool
    ) -> tuple[h11.Response, asyncio.Task | None]:
        """Send the request and read the response head (1xx skipped). The body is `body`,
        then, unless `complete`, the rest streamed from the child by a concurrent pump: a
        server may answer (413, 401) before the upload is done. UpstreamError if the
        server fails; ClientGone if the child went away mid-upload."""
        pump: asyncio.Task | None = None
        try:
            up.queue(req)
            for chunk in body:
                up.queue(chunk)
            if complete:
                up.queue(h11.EndOfMessage())
            await up.flush()
            if not complete:
                pump = asyncio.create_task(self._pump_body(peer, up))
            while True:
                event = await up.next_event(self.limits.upstream_read_timeout)
                if isinstance(event, h11.Response):
                    return event, pump
                if not isinstance(event, h11.InformationalResponse):
                    raise UpstreamError("closed the connection without an answer")
        except TimeoutError:
            await _settle(pump)
            raise UpstreamTimeout(f"no answer within {self.limits.upstream_read_timeout:g} s")
        except NETWORK_ERRORS as exc:
            if pump is not None and await _settle(pump) is not None:
                raise ClientGone() from None  # the child left mid-upload
            raise UpstreamError(str(exc) or type(exc).__name__) from None

    async def _pump_body(self, peer: Peer, up: Peer) -> None:
        try:
            while True:
                event = await peer.next_event(self.limits.body_timeout)
                if isinstance(event, h11.Data):
                    up.queue(event)
                    await up.flush()
                elif isinstance(event, h11.EndOfMessage):
                    up.queue(event)
                    await up.flush()
                    return
                else:
                    raise ClientGone()
        except BaseException:
            # The server must not wait for a body that will never come; this also wakes
            # the exchange that waits for its answer.
            up.abort()
            raise

    async def _upload_finished(self, peer: Peer, pump: asyncio.Task) -> bool:
        """After relaying the answer: did the whole upload reach the server?"""
        if not pump.done() and peer.conn.their_state is h11.DONE:
            # The body is all read and its end is on its way to the server.
            await asyncio.wait([pump], timeout=UPLOAD_FINISH)
        return pump.done() and not pump.cancelled() and pump.exception() is None

    async def _relay(self, peer: Peer, up: Peer, resp: h11.Response) -> None:
        """Stream the response to the child, each upstream chunk as soon as it arrives
        (we write whenever we would otherwise wait: server-sent events stay live)."""
        headers = end_to_end(resp.headers)
        peer.queue(forwarded_response(resp, headers))
        conn, timeout = up.conn, self.limits.upstream_read_timeout
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                await peer.flush()
                try:
                    event = await up.next_event(timeout)
                except (TimeoutError, *NETWORK_ERRORS):
                    event = None
            if isinstance(event, h11.Data):
                peer.queue(event)
                if peer.pending() > HIGH_WATER:
                    await peer.flush()
            elif isinstance(event, h11.EndOfMessage):
                peer.queue(event)
                await peer.flush()
                return
            else:  # upstream died mid-body: the child must see a truncated message
                raise ClientGone()

    async def _refreshed(self, route: Route) -> tuple[bytes, bytes] | None:
        try:
            return self._encode(await self.get_header(route[0], route[1], True))
        except (AuthsomeError, HeaderRefused) as exc:
            self.warn(f"{route[0]}/{route[1]}: refresh after 401 failed: {exc}")
            return None

    async def _discard(self, up: Peer, origin: Origin) -> None:
        """Read and drop a response body so the connection can be reused (or close it)."""
        size = 0
        try:
            while True:
                event = await up.next_event(self.limits.upstream_read_timeout)
                if isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > RETRY_BODY_LIMIT:
                        break
                elif isinstance(event, h11.EndOfMessage):
                    self.pool.release(origin, up)
                    return
                else:
                    break
        except (TimeoutError, *NETWORK_ERRORS):
            pass
        up.abort()

    async def _read_body(self, peer: Peer) -> list[h11.Data]:
        chunks: list[h11.Data] = []
        size = 0
        while True:
            event = await peer.next_event(self.limits.body_timeout)
            if isinstance(event, h11.Data):
                chunks.append(event)
                size += len(event.data)
                if size > RETRY_BODY_LIMIT:
                    raise ClientGone()  # a GET with a megabyte body: not worth serving
            elif isinstance(event, h11.EndOfMessage):
                return chunks
            else:
                raise ClientGone()


async def _settle(task: asyncio.Task | None) -> BaseException | None:
    """Finish `task` (cancelled if still running) and read its outcome, so asyncio
    never reports an exception nobody retrieved. Returns its exception, if any."""
    if task is None:
        return None
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
    if task.cancelled():
        return None
    return task.exception()
