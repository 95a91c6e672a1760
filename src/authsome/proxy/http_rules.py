"""The proxy's pure HTTP/1.1 rules: hop-by-hop removal, the injected header, the
proxy credential, authorities, and its own short answers. No I/O.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from http import HTTPStatus

from authsome.protocol.authheader import TCHAR
from authsome.protocol.urls import split_authority  # noqa: F401 (the one rule; re-exported)

from .http_messages import Headers, response_head

# RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy's own. Content-Length and
# Transfer-Encoding stay: the forwarded message keeps its framing.
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


_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")


class HeaderRefused(ValueError):
    """An injected header value that would break framing (CR, LF or NUL)."""


class ClientGone(Exception):
    """The child closed its side mid-exchange (or the exchange had to be cut)."""


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
    """`strip_hop_by_hop` for parsed headers (names already lowercase), in one
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
    it goes out next to fields the parser already checked."""
    if any(c in value for c in "\r\n\0") or any(c in name for c in "\r\n\0: "):
        raise HeaderRefused(f"refusing to send a {name} header containing a control character")
    try:  # a token stored before `secret_problem` was checked at store time
        raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise HeaderRefused(f"refusing to send a {name!r} header with characters outside Latin-1")
    if not name or not all(c in TCHAR for c in name) or not _FIELD_VALUE.fullmatch(raw_value):
        raise HeaderRefused(f"refusing to send a {name} header that is not a valid HTTP field")
    return raw_name, raw_value


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


def authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def simple_response(status: int, text: str, extra: Headers = ()) -> bytes:
    """A short text/plain answer from the proxy itself, whole."""
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
    return response_head(status, reason, headers) + body
