"""Forwarding one request/response exchange to the real server (SPEC §6.1, §6.5).

Runs on the client connection's thread with blocking sockets. Bodies stream in both
directions piece by piece: nothing is buffered whole except the (small) body of a
GET/HEAD that may be retried once after a 401. What is ready is written in one piece
(head and body of a short answer are one TLS record and one system call); we write
whenever we would otherwise wait, so server-sent events stay live.

Every way out of `Forwarder.forward` leaves the upstream connection back in the pool
after a complete exchange, or closed.
"""

from __future__ import annotations

import select
from collections.abc import Callable

from authsome.errors import AuthsomeError
from authsome.protocol.authheader import QUERY_MARK

from .addressed import ALLOWED, Refusal
from .conn import NETWORK_ERRORS, Closed, Conn
from .http_messages import (
    CHUNKED,
    END,
    NO_BODY,
    UNTIL_CLOSE,
    Head,
    ParseError,
    Upgrade,
    body_bytes,
    end_bytes,
    request_head,
    response_head,
)
from .http_rules import (
    ClientGone,
    HeaderRefused,
    basic_credential,
    encode_header,
    end_to_end,
    get_header,
    simple_response,
)
from .limits import HIGH_WATER, Limits
from .querykey import set_query_param
from .tunnel import splice_conns
from .upstream import Origin, Pool, UpstreamError, UpstreamTimeout, upstream_status

# (provider, connection, force_refresh) -> (header name, header value); a name that
# starts with QUERY_MARK is a query parameter that carries the key instead.
HeaderSource = Callable[[str, str, bool], tuple[str, str]]
AuditSink = Callable[..., None]
Route = tuple[str, ...]  # (provider, connection) or, on a git host, + its username

RETRY_BODY_LIMIT = 1 << 20  # a GET/HEAD body we keep for the retry after a 401
# A stale pooled connection is retried on a fresh one only for these (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = (b"connection", b"close")


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
        self.on_forbidden: Callable[[Route, list], None] | None = None  # proxy/stepup.py
        # (name, value) -> encoded and checked; the same token serves many requests
        self._encoded: dict[tuple[str, str], tuple[bytes, bytes]] = {}

    def forward(self, client: Conn, req: Head, origin: Origin, route: Route | None) -> bool:
        """Send `req` (its body read from `client`) to `origin` and relay the answer.
        True if the client connection can carry another request."""
        limits = self.limits
        if req.framing != NO_BODY and _expects_continue(req):
            client.send(CONTINUE, limits.idle_timeout)
        inject = None
        if route is not None:
            try:
                inject = self._inject(req, self._header(route, False))
            except (AuthsomeError, HeaderRefused) as exc:
                self.warn(f"{route[0]}/{route[1]}: {exc}")
                drain_body(client, limits.body_timeout)
                answer(client, 502, f"authsome: {route[0]}: {exc}", limits.idle_timeout)
                return req.keep_alive
        headers = end_to_end(req.headers, inject[0].lower() if inject else b"")
        upgrade = websocket_upgrade(req.headers)
        if upgrade:
            headers += [(b"connection", b"upgrade"), (b"upgrade", upgrade)]
        retryable = route is not None and req.method in (b"GET", b"HEAD")
        body, complete = (
            (read_body(client, limits.body_timeout), True) if retryable else take_queued(client)
        )
        status, retried = 0, False
        up: Conn | None = None
        try:
            while True:
                try:
                    up, reused = self.pool.acquire(origin)
                except UpstreamError as exc:
                    answer_error(client, upstream_status(exc), str(exc))
                    return False
                up.reader.head_only = req.method == b"HEAD"
                try:
                    resp, complete = self._exchange(
                        client, up, req, [*headers, inject] if inject else headers, body, complete
                    )
                except (UpstreamError, *NETWORK_ERRORS, Closed, ParseError) as exc:
                    self.pool.discard(up)
                    up = None
                    if reused and complete and req.method in IDEMPOTENT:
                        continue  # a stale keep-alive connection: once more on a fresh one
                    if isinstance(exc, TimeoutError | UpstreamTimeout):
                        text = f"no answer within {limits.upstream_read_timeout:g} s"
                        answer_error(client, 504, f"authsome: {origin[1]}: {text}")
                    else:
                        reason = str(exc) or "closed the connection without an answer"
                        answer_error(client, 502, f"authsome: {origin[1]}: {reason}")
                    return False
                status = resp.status
                if status == 401 and retryable and not retried and route is not None:
                    fresh = self._refreshed(route, req)
                    if fresh is not None:
                        retried, inject = True, fresh
                        self._discard(up, origin)
                        up = None
                        continue
                break
            if status == 403 and route is not None and self.on_forbidden is not None:
                self.on_forbidden(route, resp.headers)
            if status == 101:
                self._switch(client, up, resp)
                return False
            keep = self._relay(client, up, req, resp) and complete
            if resp.keep_alive and not up.reader.in_message:
                self.pool.release(origin, up)
            else:
                self.pool.discard(up)
            up = None
            return keep
        finally:
            if up is not None:  # left by an exception: mid-exchange, not reusable
                self.pool.discard(up)
            if route is not None and status:
                self._audit(route, req, origin, status)

    def _exchange(
        self, client: Conn, up: Conn, req: Head, headers, body: list[bytes], complete: bool
    ) -> tuple[Head, bool]:
        """Send the request, then read the answer's head (1xx skipped). Returns it and
        whether the whole request body went out (a server may answer before the end)."""
        limits, framing = self.limits, req.framing
        out = [request_head(req.method, req.target, headers)]
        out += [body_bytes(framing, piece) for piece in body]
        if complete:
            out.append(end_bytes(framing))
        try:
            up.send(b"".join(out), limits.upstream_read_timeout)
            if not complete:
                complete = self._pump(client, up, framing)
        except NETWORK_ERRORS:
            if complete:
                raise
            complete = False  # the server stopped reading the upload: it may have answered
        while True:
            event = up.next_event(limits.upstream_read_timeout)
            if not isinstance(event, Head):
                raise UpstreamError("sent a body without a head")
            if event.status >= 200:
                return event, complete
            if event.status == 101:
                if any(name == b"upgrade" for name, _ in headers):
                    return event, complete  # a WebSocket handshake accepted
                raise UpstreamError("switched protocols unasked")
            if up.next_event(limits.upstream_read_timeout) is not END:
                raise UpstreamError("sent a body with an interim answer")

    def _pump(self, client: Conn, up: Conn, framing: int) -> bool:
        """Stream the rest of the request body to the server. True once it is all sent;
        False as soon as the server answers first (413, 401 mid-upload)."""
        events, timeout = client.reader.events, self.limits.body_timeout
        while True:
            while events:
                event = events.popleft()
                if event is END:
                    up.send(end_bytes(framing), self.limits.upstream_read_timeout)
                    return True
                if not isinstance(event, bytes):
                    raise ClientGone()
                up.send(body_bytes(framing, event), self.limits.upstream_read_timeout)
            if up.readable_now():
                return False
            if not client.readable_now():
                ready, _, _ = select.select([client.sock, up.sock], [], [], timeout)
                if not ready:
                    raise ClientGone()  # the upload stalled past the body timeout
                if up.sock in ready and up.poll():
                    return False  # the server answered (or gave up) before the end
                if client.sock not in ready:
                    continue
            try:
                if not client.receive(timeout):
                    raise ClientGone()
            except (ParseError, TimeoutError, *NETWORK_ERRORS):
                raise ClientGone() from None

    def _relay(self, client: Conn, up: Conn, req: Head, resp: Head) -> bool:
        """Stream the answer to the child; True if its connection stays usable."""
        framing = resp.framing
        headers = end_to_end(resp.headers)
        keep = req.keep_alive and framing != UNTIL_CLOSE
        if framing == CHUNKED and req.version == "1.0":
            framing = UNTIL_CLOSE  # an HTTP/1.0 client cannot read chunks: send them bare
            headers = [(n, v) for n, v in headers if n != b"transfer-encoding"]
            keep = False
        if not keep:
            headers.append(CLOSE)
        out = [response_head(resp.status, resp.reason, headers)]
        size = 0
        events = up.reader.events
        timeout, sending = self.limits.upstream_read_timeout, self.limits.idle_timeout
        while True:
            while events:
                event = events.popleft()
                if event is END:
                    out.append(end_bytes(framing))
                    _send_to_client(client, out, sending)
                    return keep
                if not isinstance(event, bytes):
                    raise ClientGone()  # a second answer to one request
                out.append(body_bytes(framing, event))
                size += len(event)
                if size > HIGH_WATER:
                    _send_to_client(client, out, sending)
                    size = 0
            if not up.waiting():  # about to wait: what we have goes out first (SSE)
                _send_to_client(client, out, sending)
                size = 0
            try:
                up.receive(timeout)
            except (ParseError, TimeoutError, *NETWORK_ERRORS):
                raise ClientGone() from None  # the child must see a truncated message
            if up.closed and not events:
                raise ClientGone()

    def _switch(self, client: Conn, up: Conn, resp: Head) -> None:
        """After a `101 Switching Protocols`: relay the answer, then bytes both ways
        until either side closes (a WebSocket; the token went with its handshake)."""
        upgrade = get_header(resp.headers, b"upgrade") or b"websocket"
        headers = [*end_to_end(resp.headers), (b"connection", b"upgrade"), (b"upgrade", upgrade)]
        events, rest = up.reader.events, b""
        while events:
            event = events.popleft()
            if isinstance(event, Upgrade):
                rest = event.rest
        try:
            client.send(response_head(101, resp.reason, headers) + rest, self.limits.idle_timeout)
        except NETWORK_ERRORS:
            raise ClientGone() from None
        splice_conns(client, up)

    def _encode(self, header: tuple[str, str]) -> tuple[bytes, bytes]:
        hit = self._encoded.get(header)
        if hit is None:
            if len(self._encoded) > 64:
                self._encoded.clear()
            hit = self._encoded[header] = encode_header(*header)
        return hit

    def refuse(self, client: Conn, req: Head, refusal: Refusal, route: Route | None) -> bool:
        """Answer a request that must not go out with the token (`check_addressed`);
        True if the connection can carry another request."""
        drain_body(client, self.limits.body_timeout)
        extra = [(b"allow", ALLOWED)] if refusal.status == 405 else []
        keep = req.keep_alive and req.method != b"CONNECT"  # after CONNECT: not HTTP
        answer(client, refusal.status, refusal.text, self.limits.idle_timeout,
               extra if keep else [*extra, CLOSE])  # fmt: skip
        if route is not None:
            self._audit(route, req, ("https", refusal.host, 0), refusal.status)
        return keep

    def _header(self, route: Route, force_refresh: bool) -> tuple[str, str]:
        """The provider's header for `route`. On a git host (the route's third element is
        the username git would send), Basic username:token, the form git itself sends
        and the host expects (SPEC §6.10): under `run` the git adapter answers nothing."""
        name, value = self.get_header(route[0], route[1], force_refresh)
        if len(route) > 2 and route[2] and not name.startswith(QUERY_MARK):
            token = value.rsplit(" ", 1)[-1]  # "Bearer TOKEN", "token TOKEN" or "TOKEN"
            return "Authorization", basic_credential(route[2], token).decode()
        return name, value

    def _inject(self, req: Head, pair: tuple[str, str]) -> tuple[bytes, bytes] | tuple[()]:
        """The header to add to `req`; for a key that goes in the query, none: the key
        is set on `req.target` instead (the audit log keeps the path only)."""
        if pair[0].startswith(QUERY_MARK):
            req.target = set_query_param(req.target, pair[0][len(QUERY_MARK) :], pair[1])
            return ()
        return self._encode(pair)

    def _audit(self, route: Route, req: Head, origin: Origin, status: int) -> None:
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

    def _refreshed(self, route: Route, req: Head) -> tuple[bytes, bytes] | tuple[()] | None:
        try:
            return self._inject(req, self._header(route, True))
        except (AuthsomeError, HeaderRefused) as exc:
            self.warn(f"{route[0]}/{route[1]}: refresh after 401 failed: {exc}")
            return None

    def _discard(self, up: Conn, origin: Origin) -> None:
        """Read and drop a response body so the connection can be reused (or close it)."""
        size = 0
        try:
            while True:
                event = up.next_event(self.limits.upstream_read_timeout)
                if event is END:
                    self.pool.release(origin, up)
                    return
                if not isinstance(event, bytes):
                    break
                size += len(event)
                if size > RETRY_BODY_LIMIT:
                    break
        except (ParseError, Closed, *NETWORK_ERRORS):
            pass
        self.pool.discard(up)


def websocket_upgrade(headers) -> bytes | None:
    """The `Upgrade` value of a WebSocket handshake (RFC 6455 §4.1), else None: other
    upgrades (h2c) are not passed on, so their later requests cannot go without a token."""
    value = get_header(headers, b"upgrade")
    if value is None or b"websocket" not in value.lower():
        return None
    connection = get_header(headers, b"connection") or b""
    if b"upgrade" not in connection.lower():
        return None
    return value


def _expects_continue(req: Head) -> bool:
    return req.version == "1.1" and any(
        n == b"expect" and v.strip().lower() == b"100-continue" for n, v in req.headers
    )


def _send_to_client(client: Conn, out: list[bytes], timeout: float) -> None:
    if out:
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        try:
            client.send(data, timeout)
        except NETWORK_ERRORS:
            raise ClientGone() from None


def read_body(client: Conn, timeout: float) -> list[bytes]:
    """The whole (small) request body; ClientGone past RETRY_BODY_LIMIT or at EOF."""
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            event = client.next_event(timeout)
            if event is END:
                return chunks
            if not isinstance(event, bytes):
                raise ClientGone()
            chunks.append(event)
            size += len(event)
            if size > RETRY_BODY_LIMIT:
                raise ClientGone()  # a GET with a megabyte body: not worth serving
    except (Closed, ParseError, *NETWORK_ERRORS):
        raise ClientGone() from None


def take_queued(client: Conn) -> tuple[list[bytes], bool]:
    """The request body pieces already parsed, without waiting; and whether that is all
    of it (always so for a request without a body: its END is queued with its head)."""
    events = client.reader.events
    chunks: list[bytes] = []
    while events:
        event = events.popleft()
        if event is END:
            return chunks, True
        chunks.append(event)
    return chunks, False


def drain_body(client: Conn, timeout: float | None) -> None:
    """Read and drop the rest of the request body (ClientGone if it never ends)."""
    try:
        while client.next_event(timeout) is not END:
            pass
    except (Closed, ParseError, *NETWORK_ERRORS):
        raise ClientGone() from None


def answer(client: Conn, status: int, text: str, timeout: float | None, extra=()) -> None:
    """A short text/plain response from the proxy itself."""
    client.send(simple_response(status, text, list(extra)), timeout)


def answer_error(client: Conn, status: int, text: str) -> None:
    """An error answer (the response has not started), then the connection ends."""
    try:
        client.send(simple_response(status, text, [CLOSE]), 5.0)
    except NETWORK_ERRORS:
        pass
