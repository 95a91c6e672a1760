"""HTTP/1.1 plumbing for the proxy: an h11 connection over asyncio streams, and the
pure header rules (hop-by-hop removal, setting the auth header, proxy credentials).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from collections.abc import Iterable

import h11

READ_SIZE = 65536
Headers = list[tuple[bytes, bytes]]

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


class HeaderRefused(ValueError):
    """An injected header value that would break framing (CR, LF or NUL)."""


class Peer:
    """One side of a conversation: an h11 state machine bound to a stream pair."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, role: type
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(role)

    async def next_event(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                data = await self.reader.read(READ_SIZE)
            except (ConnectionError, OSError):
                data = b""
            self.conn.receive_data(data)

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    def send_nowait(self, event: h11.Event) -> None:
        """Queue without waiting for the socket buffer (small messages only)."""
        data = self.conn.send(event)
        if data:
            self.writer.write(data)

    def reusable(self) -> bool:
        """Start the next request/response cycle if both sides finished cleanly."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


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


def set_header(headers: Headers, name: str, value: str) -> Headers:
    """Replace every `name` field (any case) with exactly one `name: value`."""
    if any(c in value for c in "\r\n\0") or any(c in name for c in "\r\n\0: "):
        raise HeaderRefused(f"refusing to send a {name} header containing a control character")
    key = name.lower().encode("latin-1")
    out = [(n, v) for n, v in headers if n.lower() != key]
    out.append((name.encode("latin-1"), value.encode("latin-1")))
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
    if not host or not 0 < port < 65536:
        raise ValueError(authority)
    return host.lower().rstrip("."), port


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
    return h11.Response(status_code=status, headers=headers), body
