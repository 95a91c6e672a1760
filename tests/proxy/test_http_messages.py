"""The proxy's HTTP/1.1 framing (proxy.http_messages): events from bytes, bytes from parts."""

from __future__ import annotations

import pytest

from authsome.proxy.http_messages import (
    CHUNKED,
    END,
    LENGTH,
    NO_BODY,
    UNTIL_CLOSE,
    Head,
    ParseError,
    Reader,
    Upgrade,
    body_bytes,
    end_bytes,
    request_head,
    response_head,
)


def parse(data: bytes, response: bool = False, step: int = 0, **kw) -> list:
    reader = Reader(response, **kw)
    if step:
        for i in range(0, len(data), step):
            reader.feed(data[i : i + step])
    else:
        reader.feed(data)
    return list(reader.events)


def joined(events: list) -> list:
    """Adjacent body pieces as one (how a message arrives in reads is not its content)."""
    out: list = []
    for e in events:
        if isinstance(e, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += e
        else:
            out.append(e)
    return out


POST = (
    b"POST /v1/items?q=1 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 11\r\n"
    b"X-Two: a\r\nx-two: b\r\n\r\nhello world"
)


@pytest.mark.parametrize("step", [0, 1, 2, 7, 64])
def test_request_with_length_in_any_pieces(step):
    head, body, end = joined(parse(POST, step=step))
    assert (head.method, head.target, head.framing) == (b"POST", b"/v1/items?q=1", LENGTH)
    # names lowercased, order and repeats kept
    assert head.headers == [
        (b"host", b"api.test"),
        (b"content-length", b"11"),
        (b"x-two", b"a"),
        (b"x-two", b"b"),
    ]
    assert (body, end) == (b"hello world", END)


def test_chunked_body_is_decoded_and_framed_again():
    data = (
        b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    )
    head, *body, end = parse(data)
    assert head.framing == CHUNKED and end is END
    assert b"".join(body) == b"hello world"
    # what the proxy sends on parses back to the same message
    again = request_head(head.method, head.target, head.headers)
    again += b"".join(body_bytes(CHUNKED, b) for b in body) + end_bytes(CHUNKED)
    head2, *body2, _ = parse(again)
    assert head2.headers == head.headers and b"".join(body2) == b"hello world"


def test_pipelined_requests_come_out_in_order():
    data = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n" + POST + b"HEAD /c HTTP/1.1\r\nHost: a\r\n\r\n"
    events = joined(parse(data))
    heads = [e for e in events if isinstance(e, Head)]
    assert [h.target for h in heads] == [b"/a", b"/v1/items?q=1", b"/c"]
    assert events[1] is END and heads[0].framing == NO_BODY


def test_connect_hands_over_what_follows():
    events = parse(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n\x16\x03\x01tls")
    head, end, upgrade = events
    assert (head.method, head.target, end) == (b"CONNECT", b"api.test:443", END)
    assert isinstance(upgrade, Upgrade) and upgrade.rest == b"\x16\x03\x01tls"


def test_an_upgrade_header_is_not_a_tunnel():
    data = (
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    heads = [e for e in parse(data) if isinstance(e, Head)]
    assert [h.target for h in heads] == [b"/ws", b"/next"]


@pytest.mark.parametrize(
    "data",
    [
        # request smuggling shapes llhttp refuses in strict mode
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x02\x00",  # TLS where HTTP was due
    ],
)
def test_malformed_requests_are_refused(data):
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.status == 400


def test_limits_give_431_and_414():
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(300))
    with pytest.raises(ParseError) as info:
        parse(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
    assert info.value.status == 431
    with pytest.raises(ParseError) as info:
        parse(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", step=4096)
    assert info.value.status == 414
    # one endless field line, arriving in pieces, is cut off too
    reader = Reader(False, max_head=8192)
    reader.feed(b"GET / HTTP/1.1\r\nX-Big: ")
    with pytest.raises(ParseError) as info:
        for _ in range(10):
            reader.feed(b"v" * 1024)
    assert info.value.status == 431
    # within the limit passes
    big = b"GET / HTTP/1.1\r\nX-Big: " + b"v" * 60_000 + b"\r\n\r\n"
    assert parse(big, step=8192)[0].headers[0][1] == b"v" * 60_000


def test_responses_interim_head_only_and_no_body():
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )
    events = parse(data, response=True)
    statuses = [(e.status, e.reason) for e in events if isinstance(e, Head)]
    assert statuses == [(100, b"Continue"), (201, b"Created"), (204, b"No Content")]
    assert events[-2:] == [events[-2], END] and events[-2].framing == NO_BODY

    # the answer to a HEAD has a Content-Length and no body; the next answer follows
    reader = Reader(True)
    reader.head_only = True
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
    head, end = reader.events
    assert head.framing == NO_BODY and end is END and not reader.in_message
    reader.events.clear()
    reader.head_only = False
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
    assert [e for e in reader.events if not isinstance(e, Head)] == [b"x", END]


def test_until_close_and_truncated_responses():
    reader = Reader(True)
    reader.feed(b"HTTP/1.1 200 OK\r\n\r\npart one ")
    reader.feed(b"part two")
    reader.closed()
    head, *body, end = reader.events
    assert head.framing == UNTIL_CLOSE and b"".join(body) == b"part one part two"
    assert end is END

    reader = Reader(True)
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(ParseError):
        reader.closed()
    reader = Reader(True)
    reader.closed()  # EOF between messages is not an error
    assert not reader.events


def test_writers():
    assert request_head(b"GET", b"/x", [(b"host", b"a"), (b"authorization", b"Bearer t")]) == (
        b"GET /x HTTP/1.1\r\nhost: a\r\nauthorization: Bearer t\r\n\r\n"
    )
    assert response_head(404, b"Not Found", []) == b"HTTP/1.1 404 Not Found\r\n\r\n"
    assert body_bytes(CHUNKED, b"abc") == b"3\r\nabc\r\n" and body_bytes(CHUNKED, b"") == b""
    assert body_bytes(LENGTH, b"abc") == b"abc"
    assert end_bytes(CHUNKED) == b"0\r\n\r\n" and end_bytes(LENGTH) == b""


def test_switching_protocols_hands_over_what_follows():
    data = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: x\r\n\r\n\x81\x05hello"
    )
    head, end, upgrade = parse(data, response=True)
    assert (head.status, end) == (101, END)
    assert isinstance(upgrade, Upgrade) and upgrade.rest == b"\x81\x05hello"


def test_only_websocket_upgrades_are_passed_on():
    from authsome.proxy.forward import websocket_upgrade

    ws = [(b"connection", b"keep-alive, Upgrade"), (b"upgrade", b"websocket")]
    assert websocket_upgrade(ws) == b"websocket"
    assert websocket_upgrade([(b"connection", b"Upgrade"), (b"upgrade", b"h2c")]) is None
    assert websocket_upgrade([(b"upgrade", b"websocket")]) is None  # Connection must name it
    assert websocket_upgrade([(b"host", b"a")]) is None
