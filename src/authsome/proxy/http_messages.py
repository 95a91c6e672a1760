"""HTTP/1.1 messages as events, sans I/O: httptools (llhttp, Node.js's parser) parses,
this module frames. Pure: bytes in, events out; bytes out from parts.

Events from `Reader.events`: a `Head`, then body pieces as `bytes`, then `END`; a
CONNECT request or a `101 Switching Protocols` answer is followed by an `Upgrade`
holding the bytes after it (no longer HTTP/1.1).
Bodies are handed over decoded (no chunk framing): the writer frames them again with
`chunk()` when the head says chunked, so trailers are not passed on.

llhttp in its default strict mode refuses what makes request smuggling possible (both
Content-Length and Transfer-Encoding, bare LF line ends, obs-fold, bad chunk sizes).
"""

from __future__ import annotations

from collections import deque

import httptools

Headers = list[tuple[bytes, bytes]]

NO_BODY = 0  # framing of a message: no body
LENGTH = 1  # Content-Length bytes
CHUNKED = 2  # chunked transfer coding
UNTIL_CLOSE = 3  # a response body that ends when the server closes


class _End:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END = _End()  # the end of a message's body


class Head:
    """A request head (`method`, `target`) or a response head (`status`, `reason`)."""

    __slots__ = (
        "framing",
        "headers",
        "keep_alive",
        "method",
        "reason",
        "status",
        "target",
        "version",
    )

    def __init__(self) -> None:
        self.method = b""
        self.target = b""
        self.status = 0
        self.reason = b""
        self.headers: Headers = []
        self.version = "1.1"
        self.keep_alive = True
        self.framing = NO_BODY


class Upgrade:
    """The message before was a CONNECT (or an Upgrade): `rest` is what followed it."""

    __slots__ = ("rest",)

    def __init__(self, rest: bytes) -> None:
        self.rest = rest


class ParseError(ValueError):
    """A message we will not pass on; `status` is what to answer a client with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _SkipBody(Exception):
    """Raised from a callback: the head was all of this message (a HEAD's answer)."""


class Reader:
    """Incremental parser of requests (`response=False`) or responses from one peer.

    `feed` appends events to `events`; `closed` tells it the peer sent EOF (which ends
    a body read until close, and is an error anywhere else inside a message).
    """

    def __init__(self, response: bool, max_head: int = 1 << 16, max_fields: int = 256) -> None:
        self.response = response
        self.max_head = max_head
        self.max_fields = max_fields
        self.events: deque = deque()
        self.head_only = False  # a response reader: the request was HEAD (no body follows)
        self.in_message = False  # between a message's first byte and its END
        self._head: Head | None = None  # being read: its head is not complete yet
        self._current: Head | None = None  # the message whose body is being read
        self._head_bytes = 0
        self._url = b""
        self._size = 0
        self._method = b""
        self._status = 0
        self._parser = self._new_parser()

    def _new_parser(self):
        return (httptools.HttpResponseParser if self.response else httptools.HttpRequestParser)(
            self
        )

    # -- feeding ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse `data`. ParseError if it breaks HTTP/1.1 or our limits."""
        continued = self._head is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            rest = data[exc.args[0] :]
            self._parser = self._new_parser()
            if self._status == 101 if self.response else self._method == b"CONNECT":
                self.events.append(Upgrade(rest))
                return
            # A request asking to upgrade: until an answer switches protocols, what
            # follows is the next message.
            if rest:
                self.feed(rest)
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _SkipBody):
                self._parser = self._new_parser()  # nothing may follow a HEAD's answer head
                return
            if isinstance(cause, ParseError):
                raise cause from None
            raise ParseError(str(cause or exc)) from None
        except httptools.HttpParserError as exc:
            raise ParseError(str(exc) or "malformed HTTP/1.1") from None
        if self._head is not None:
            # A head still incomplete (llhttp keeps a partial field line): count the
            # reads that were all head; the one it began in is at most READ_SIZE.
            self._head_bytes = self._head_bytes + len(data) if continued else 0
            if self._head_bytes > self.max_head:
                raise ParseError("request head too large", 431)

    def closed(self) -> None:
        """The peer closed its side: ends an until-close body, else a truncated message."""
        if self._current is not None and self._current.framing == UNTIL_CLOSE:
            self._current = None
            self.in_message = False
            self.events.append(END)
            return
        if self.in_message:
            raise ParseError("connection closed inside a message")

    # -- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head = Head()
        self._head_bytes = 0
        self._size = 0
        self._url = b""
        self.in_message = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.max_head:
            raise ParseError("request target too long", 414)

    def on_status(self, status: bytes) -> None:
        self._head.reason += status  # type: ignore[union-attr]

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self._head.headers  # type: ignore[union-attr]
        headers.append((name.lower(), value))
        self._size += len(name) + len(value) + 4
        if len(headers) > self.max_fields:
            raise ParseError("too many header fields", 431)

    def on_headers_complete(self) -> None:
        head, parser = self._head, self._parser
        self._head = None
        head.version = parser.get_http_version()  # type: ignore[union-attr]
        head.keep_alive = parser.should_keep_alive()  # type: ignore[union-attr]
        if self.response:
            head.status = self._status = parser.get_status_code()  # type: ignore[union-attr]
        else:
            head.method = self._method = parser.get_method()  # type: ignore[union-attr]
            head.target = self._url  # type: ignore[union-attr]
        if len(self._url) + self._size > self.max_head:
            raise ParseError("request head too large", 431)
        head.framing = _framing(head, self.response)  # type: ignore[arg-type]
        self.events.append(head)
        self._current = head
        if self.response and self.head_only and head.status >= 200:  # type: ignore[union-attr]
            head.framing = NO_BODY  # type: ignore[union-attr]
            self._message_done()
            raise _SkipBody()

    def on_body(self, body: bytes) -> None:
        self.events.append(body)

    def on_message_complete(self) -> None:
        self._message_done()

    def _message_done(self) -> None:
        self._current = None
        self.in_message = False
        self.events.append(END)


def _framing(head: Head, response: bool) -> int:
    """How the body of a message is delimited (RFC 9112 §6.3)."""
    te = length = None
    for name, value in head.headers:
        if name == b"transfer-encoding":
            te = value if te is None else te + b"," + value
        elif name == b"content-length":
            length = value
    if response and (head.status < 200 or head.status in (204, 304)):
        return NO_BODY
    if te is not None:
        if te.rsplit(b",", 1)[-1].strip().lower() == b"chunked":
            return CHUNKED
        return UNTIL_CLOSE  # llhttp refuses such a request; a response runs to the close
    if length is not None:
        return LENGTH if length.strip() != b"0" else NO_BODY
    return UNTIL_CLOSE if response else NO_BODY


# -- writing ---------------------------------------------------------------------------


def request_head(method: bytes, target: bytes, headers: Headers) -> bytes:
    """A request line and fields made of parts llhttp parsed (or `encode_header` checked)."""
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def response_head(status: int, reason: bytes, headers: Headers) -> bytes:
    lines = [b"HTTP/1.1 %d " % status, reason, b"\r\n"]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data) if data else b""


LAST_CHUNK = b"0\r\n\r\n"


def body_bytes(framing: int, data: bytes) -> bytes:
    """A decoded body piece as it goes on the wire under `framing`."""
    return chunk(data) if framing == CHUNKED else data


def end_bytes(framing: int) -> bytes:
    return LAST_CHUNK if framing == CHUNKED else b""
