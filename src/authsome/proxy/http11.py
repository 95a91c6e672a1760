"""HTTP/1.1 plumbing for the proxy: an h11 connection over asyncio streams, and the
pure header rules (hop-by-hop removal, setting the auth header, proxy credentials).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import inspect
import re
from collections.abc import Iterable
from http import HTTPStatus

import h11

from .limits import HIGH_WATER, MAX_HEAD, READ_SIZE

Headers = list[tuple[bytes, bytes]]
NETWORK_ERRORS = (ConnectionError, OSError, asyncio.IncompleteReadError, h11.ProtocolError)

# RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy's own. Content-Length and
# Transfer-Encoding stay: h11 frames the forwarded message from them.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",  # we answer 100-continue ourselves
    }
)


_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")
# Fields h11 parsed are valid already: validating them again on the way out is a fifth
# of h11's work per exchange. `_parsed` is h11's own switch for that (0.9 to 0.16); an h11
# without it gets its events built, and checked, the ordinary way.
_TRUSTED = {"_parsed": True} if "_parsed" in inspect.signature(h11.Request).parameters else {}


class HeaderRefused(ValueError):
    """An injected header value that would break framing (CR, LF or NUL)."""


class ClientGone(Exception):
    """The child closed its side mid-exchange (or the exchange had to be cut)."""


class Peer:
    """One side of a conversation: an h11 state machine bound to a stream pair.

    Output is queued and written in one piece when the caller is about to wait (one TLS
    record and one syscall per exchange instead of one per event); we wait for the
    socket to drain only past HIGH_WATER, which bounds memory while streaming.
    """

    __slots__ = (
        "_deadline",
        "_expired",
        "_loop",
        "_out",
        "_timer",
        "_timer_at",
        "_waiter",
        "conn",
        "reader",
        "writer",
    )

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        role: type,
        max_head: int = MAX_HEAD,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(role, max_incomplete_event_size=max_head)
        self._out: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        # Read deadlines: one lazy timer per connection, moved on only when it fires,
        # instead of a timer armed and cancelled around every read (a tenth of the
        # proxy's time per request with asyncio.timeout).
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._waiter: asyncio.Task | None = None
        self._expired = False

    async def _receive(self) -> None:
        try:
            data = await self.reader.read(READ_SIZE)
        except (ConnectionError, OSError):
            data = b""
        self.conn.receive_data(data)

    async def _receive_by(self, deadline: float) -> None:
        """`_receive`, or TimeoutError once the loop's clock passes `deadline`."""
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._expire)
            self._timer_at = deadline
        task = self._waiter = asyncio.current_task()
        try:
            await self._receive()
        except asyncio.CancelledError:
            if self._expired and task is not None:
                self._expired = False
                task.uncancel()
                raise TimeoutError from None
            raise
        finally:
            self._waiter = None

    def _expire(self) -> None:
        self._timer = None
        if self._waiter is None:
            return  # not reading now: the next read arms its own deadline
        if self._loop.time() < self._deadline:  # moved on since: wait for the new one
            self._timer = self._loop.call_at(self._deadline, self._expire)
            self._timer_at = self._deadline
            return
        self._expired = True
        self._waiter.cancel()

    async def next_event(self, timeout: float | None = None) -> h11.Event:
        """The next event; TimeoutError after `timeout` seconds without a byte."""
        event = self.conn.next_event()
        while event is h11.NEED_DATA:
            if timeout is None:
                await self._receive()
            else:
                await self._receive_by(self._loop.time() + timeout)
            event = self.conn.next_event()
        return event  # type: ignore[return-value]

    async def next_head(self, idle: float, header: float) -> h11.Event:
        """The next message head: its first byte within `idle` seconds, the rest within
        `header` seconds of that. TimeoutError otherwise (idle keep-alive, slowloris)."""
        event = self.conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        deadline = self._loop.time() + idle
        started = False
        while True:
            await self._receive_by(deadline)
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            if not started:
                started = True
                deadline = min(deadline, self._loop.time() + header)

    def queue(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self._out.append(data)

    def pending(self) -> int:
        return sum(map(len, self._out))

    async def flush(self) -> None:
        """Write what is queued; wait only if the socket's buffer is past HIGH_WATER."""
        transport = self.writer.transport
        if transport.is_closing():
            self._out.clear()
            raise ConnectionResetError("connection closed")
        if self._out:
            self.writer.write(self._out[0] if len(self._out) == 1 else b"".join(self._out))
            self._out.clear()
        if transport.get_write_buffer_size() > HIGH_WATER:
            await self.writer.drain()

    async def send(self, event: h11.Event) -> None:
        self.queue(event)
        await self.flush()

    def send_nowait(self, event: h11.Event) -> None:
        """Write now without waiting for the socket buffer (small messages only)."""
        self.queue(event)
        if not self.writer.transport.is_closing():
            self.writer.write(b"".join(self._out))
        self._out.clear()

    def reusable(self) -> bool:
        """Start the next request/response cycle if both sides finished cleanly."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        """Close after flushing (and, over TLS, a close_notify)."""
        self._stop_timer()
        if not self.writer.is_closing():
            self.writer.close()

    def abort(self) -> None:
        """Drop the connection now: its fd is released at once, the peer sees it closed."""
        self._stop_timer()
        self.writer.transport.abort()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def answer(peer: Peer, status: int, text: str, extra: Headers = ()) -> None:
    """A short text/plain response from the proxy itself."""
    resp, body = simple_response(status, text, list(extra))
    peer.queue(resp)
    if body:
        peer.queue(h11.Data(data=body))
    peer.queue(h11.EndOfMessage())
    await peer.flush()


async def answer_error(peer: Peer, status: int, text: str) -> None:
    """An error answer if the response has not started, then close the connection."""
    if peer.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        with contextlib.suppress(*NETWORK_ERRORS):
            await answer(peer, status, text, [(b"connection", b"close")])
    peer.close()


async def drain_body(peer: Peer, timeout: float | None = None) -> None:
    """Read and drop the rest of the request body (ClientGone if it never ends)."""
    while peer.conn.their_state is h11.SEND_BODY:
        event = await peer.next_event(timeout)
        if isinstance(event, h11.ConnectionClosed):
            raise ClientGone()


def take_buffered_body(peer: Peer) -> tuple[list[h11.Data], bool]:
    """The request body events already received, without waiting; and whether that is
    all of it (always so for a request without a body)."""
    chunks: list[h11.Data] = []
    while True:
        event = peer.conn.next_event()
        if isinstance(event, h11.Data):
            chunks.append(event)
        elif isinstance(event, h11.EndOfMessage):
            return chunks, True
        elif event is h11.NEED_DATA:
            return chunks, False
        else:
            raise ClientGone()


def strip_hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The end-to-end fields only; also drops the fields that `Connection` names."""
    headers = list(headers)
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]


def end_to_end(headers: Iterable[tuple[bytes, bytes]], drop: bytes = b"") -> Headers:
    """`strip_hop_by_hop` for h11's parsed headers (names already lowercase), in one
    pass unless a `Connection` field names more; also drops the field `drop`."""
    out: Headers = []
    named = None
    for name, value in headers:
        if name in HOP_BY_HOP or name == drop:
            if name == b"connection":
                named = {t.strip().lower() for t in value.split(b",")}
            continue
        out.append((name, value))
    if named:
        out = [(n, v) for n, v in out if n not in named]
    return out


def encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """A header to inject, refused unless it is a valid field (RFC 9110 §5.1, §5.5):
    it goes out without h11's own check (see `forwarded_request`)."""
    if any(c in value for c in "\r\n\0") or any(c in name for c in "\r\n\0: "):
        raise HeaderRefused(f"refusing to send a {name} header containing a control character")
    raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
    if not _TOKEN.fullmatch(raw_name) or not _FIELD_VALUE.fullmatch(raw_value):
        raise HeaderRefused(f"refusing to send a {name} header that is not a valid HTTP field")
    return raw_name, raw_value


def forwarded_request(method: bytes, target: bytes, headers: Headers) -> h11.Request:
    """A request made of parts h11 parsed (and `encode_header` checked)."""
    return h11.Request(method=method, target=target, headers=headers, **_TRUSTED)


def forwarded_response(resp: h11.Response, headers: Headers) -> h11.Response:
    return h11.Response(
        status_code=resp.status_code, headers=headers, reason=resp.reason, **_TRUSTED
    )


def set_header(headers: Headers, name: str, value: str) -> Headers:
    """Replace every `name` field (any case) with exactly one `name: value`."""
    raw_name, raw_value = encode_header(name, value)
    key = raw_name.lower()
    out = [(n, v) for n, v in headers if n.lower() != key]
    out.append((raw_name, raw_value))
    return out


def get_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def basic_credential(user: str, password: str) -> bytes:
    """The `Proxy-Authorization` value a client with `user:password` sends."""
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def proxy_authorized(headers: Iterable[tuple[bytes, bytes]], expected: bytes) -> bool:
    """Constant-time check of the per-run proxy credential (scheme is case-insensitive)."""
    got = get_header(headers, b"proxy-authorization")
    if not got:
        return False
    scheme, _, rest = got.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return False
    return hmac.compare_digest(b"Basic " + rest.strip(), expected)


def split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """'host:port' / '[v6]:port' / 'host' -> (host, port). Raises ValueError if malformed."""
    authority = authority.strip()
    if authority.startswith("["):
        end = authority.index("]")
        host, rest = authority[1:end], authority[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif authority.count(":") == 1:
        host, p = authority.split(":")
        port = int(p)
    else:
        host, port = authority, default_port
    host = host.lower().rstrip(".")
    if not host or not 0 < port < 65536:  # '' would mean this machine to getaddrinfo
        raise ValueError(authority)
    return host, port


def authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def simple_response(status: int, text: str, extra: Headers = ()) -> tuple[h11.Response, bytes]:
    """A short text/plain answer from the proxy itself."""
    body = (text + "\n").encode() if text else b""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b""
    return h11.Response(status_code=status, headers=headers, reason=reason), body
