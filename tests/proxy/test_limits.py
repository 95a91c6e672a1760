"""The proxy's limits: oversized heads, stalled and idle clients, silent upstreams."""

from __future__ import annotations

import asyncio
import time

import h11
import pytest

from authsome.proxy.limits import Limits
from proxy.harness import API_HOST, CRED, Harness, receive

pytestmark = pytest.mark.timeout(60)
AUTH = b"Proxy-Authorization: " + CRED + b"\r\n"
SHORT = 0.5  # the timeout under test, in seconds


async def ok(conn, reader, writer, req) -> None:
    while not isinstance(await receive(conn, reader), h11.EndOfMessage):
        pass
    writer.write(conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"2")])))
    writer.write(conn.send(h11.Data(data=b"ok")) + conn.send(h11.EndOfMessage()))


async def silent(conn, reader, writer, req) -> None:
    await asyncio.sleep(30)


async def half_body(conn, reader, writer, req) -> None:
    writer.write(conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"10")])))
    writer.write(conn.send(h11.Data(data=b"12345")))
    await asyncio.sleep(30)


async def _read_all(reader: asyncio.StreamReader, seconds: float = 10) -> bytes:
    out = b""
    while data := await asyncio.wait_for(reader.read(65536), seconds):
        out += data
    return out


async def _closed_after(reader: asyncio.StreamReader, start: float) -> tuple[bytes, float]:
    data = await _read_all(reader)
    return data, time.monotonic() - start


def _run(pki, handler, probe, stall_handshake: bool = False, **limits):
    async def scenario():
        async with Harness(pki, handler, Limits(**limits), stall_handshake) as h:
            return await probe(h), h.errors

    result, errors = asyncio.run(scenario())
    assert errors == [], [e.get("message") for e in errors]
    return result


def test_limit_values_are_sensible():
    limits = Limits()
    assert limits.max_head == 64 * 1024 and limits.max_header_fields == 256
    assert (limits.header_timeout, limits.idle_timeout) == (30.0, 120.0)
    assert limits.upstream_connect_timeout == 15.0 and limits.upstream_read_timeout == 600.0


def test_oversized_heads_get_431_and_a_big_one_within_the_limit_passes(pki):
    def get(extra: bytes, target: bytes = b"/") -> bytes:
        head = b"GET http://example.test" + target + b" HTTP/1.1\r\nHost: example.test\r\n"
        return head + AUTH + extra + b"\r\n"

    async def probe(h):
        answers = []
        for raw in (
            get(b"X-Big: " + b"a" * 70_000 + b"\r\n"),
            get(b"", b"/" + b"a" * 70_000),
            get(b"X: y\r\n" * 300),
        ):
            reader, writer = await h.raw()
            writer.write(raw)
            answers.append(await _read_all(reader))  # answered, then closed
            writer.close()
        # 40 KB of header fields, inside the 64 KiB limit: forwarded
        reader, writer = await h.client()
        conn = h11.Connection(h11.CLIENT)
        headers = [(b"host", API_HOST.encode()), (b"x-big", b"b" * 40_000)]
        writer.write(conn.send(h11.Request(method="GET", target="/", headers=headers)))
        writer.write(conn.send(h11.EndOfMessage()))
        resp = await asyncio.wait_for(receive(conn, reader), 10)
        writer.close()
        return answers, resp.status_code

    answers, status = _run(pki, ok, probe)
    for answer, code in zip(answers, (b"431", b"414", b"431"), strict=True):
        assert answer.startswith(b"HTTP/1.1 " + code), answer[:80]
        assert b"connection: close" in answer.lower()
    assert status == 200


def test_slowloris_heads_are_cut_off(pki):
    async def probe(h):
        start = time.monotonic()
        # a plain request, a CONNECT, a request inside the tunnel, a TLS hello never sent
        plain_r, plain_w = await h.raw()
        plain_w.write(b"GET http://example.test/ HTTP/1.1\r\n" + AUTH + b"X-Slow: a")
        connect_r, connect_w = await h.raw()
        connect_w.write(b"CONNECT " + API_HOST.encode() + b":443 HTTP/1.1\r\n")
        inner_r, inner_w = await h.client()
        inner_w.write(b"GET / HTTP/1.1\r\nHost: " + API_HOST.encode() + b"\r\nX-Slow: a")
        hello_r, hello_w = await h.raw()
        target = API_HOST.encode() + b":443"
        hello_w.write(
            b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n" + AUTH + b"\r\n"
        )
        results = await asyncio.gather(
            *(_closed_after(r, start) for r in (plain_r, connect_r, inner_r, hello_r))
        )
        for w in (plain_w, connect_w, inner_w, hello_w):
            w.close()
        return results

    (plain, t1), (connect, t2), (inner, t3), (hello, t4) = _run(
        pki, ok, probe, header_timeout=SHORT
    )
    assert plain.startswith(b"HTTP/1.1 408 ") and connect.startswith(b"HTTP/1.1 408 ")
    assert inner.startswith(b"HTTP/1.1 408 ")
    assert hello.startswith(b"HTTP/1.1 200 ")  # the CONNECT answer, then the hello timed out
    assert all(SHORT * 0.8 < t < SHORT + 3 for t in (t1, t2, t3, t4)), (t1, t2, t3, t4)


def test_idle_keepalive_connections_are_closed_and_busy_ones_kept(pki):
    async def probe(h):
        # after a 407 (the connection stays open for the retry), then silence
        reader, writer = await h.raw()
        writer.write(b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n")
        start = time.monotonic()
        answered, idle_for = await _closed_after(reader, start)
        writer.close()
        # requests closer together than the idle timeout keep one connection going
        reader, writer = await h.client()
        conn = h11.Connection(h11.CLIENT)
        statuses = []
        for _ in range(3):
            await asyncio.sleep(SHORT * 0.6)
            req = h11.Request(method="GET", target="/", headers=[(b"host", API_HOST.encode())])
            writer.write(conn.send(req) + conn.send(h11.EndOfMessage()))
            statuses.append((await asyncio.wait_for(receive(conn, reader), 10)).status_code)
            while not isinstance(await receive(conn, reader), h11.EndOfMessage):
                pass
            conn.start_next_cycle()
        start = time.monotonic()
        rest, tls_idle_for = await _closed_after(reader, start)
        writer.close()
        return answered, idle_for, statuses, rest, tls_idle_for

    answered, idle_for, statuses, rest, tls_idle_for = _run(pki, ok, probe, idle_timeout=SHORT)
    assert answered.startswith(b"HTTP/1.1 407 ")
    assert SHORT * 0.8 < idle_for < SHORT + 3
    assert statuses == [200, 200, 200]
    assert rest == b"" and SHORT * 0.8 < tls_idle_for < SHORT + 3


def _one_request(expect_body: bool = False):
    async def probe(h):
        reader, writer = await h.client()
        conn = h11.Connection(h11.CLIENT)
        req = h11.Request(method="GET", target="/", headers=[(b"host", API_HOST.encode())])
        writer.write(conn.send(req) + conn.send(h11.EndOfMessage()))
        start = time.monotonic()
        resp = await asyncio.wait_for(receive(conn, reader), 10)
        body = b""
        try:
            while isinstance(event := await receive(conn, reader), h11.Data):
                body += event.data
        except h11.RemoteProtocolError:
            event = "cut"
        writer.close()
        return resp.status_code, body, event, time.monotonic() - start

    return probe


def test_upstream_that_never_answers_gets_504(pki):
    status, body, _, took = _run(pki, silent, _one_request(), upstream_read_timeout=SHORT)
    assert status == 504 and b"no answer within 0.5 s" in body
    assert took < SHORT + 3


def test_upstream_that_never_finishes_tls_gets_504(pki):
    status, body, _, took = _run(
        pki, ok, _one_request(), upstream_connect_timeout=SHORT, stall_handshake=True
    )
    assert status == 504 and b"no connection within 0.5 s" in body
    assert took < SHORT + 3


def test_upstream_silent_mid_body_cuts_the_response(pki):
    status, body, end, took = _run(pki, half_body, _one_request(), upstream_read_timeout=SHORT)
    # the head and the first bytes were relayed: the child sees a truncated message
    assert (status, body, end) == (200, b"12345", "cut")
    assert took < SHORT + 3


async def trickle(conn, reader, writer, req) -> None:
    """Server-sent events, one every 0.6 x SHORT: longer in all than SHORT."""
    while not isinstance(await receive(conn, reader), h11.EndOfMessage):
        pass
    writer.write(conn.send(h11.Response(status_code=200, headers=[])))
    for i in range(5):
        await asyncio.sleep(SHORT * 0.6)
        writer.write(conn.send(h11.Data(data=f"data: {i}\n\n".encode())))
    writer.write(conn.send(h11.EndOfMessage()))


async def body_sink(conn, reader, writer, req) -> None:
    while not isinstance(await receive(conn, reader), h11.EndOfMessage):
        pass


def test_timeouts_count_silence_not_total_time(pki):
    status, body, end, took = _run(pki, trickle, _one_request(), upstream_read_timeout=SHORT)
    assert status == 200 and end == h11.EndOfMessage()
    assert body == b"".join(f"data: {i}\n\n".encode() for i in range(5))
    assert took > SHORT * 2  # never cut, though the whole stream outlasted the timeout


def test_stalled_upload_is_cut_and_the_upstream_closed(pki):
    async def probe(h):
        reader, writer = await h.client()
        writer.write(
            f"POST /up HTTP/1.1\r\nHost: {API_HOST}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b"x" * 100
        )
        start = time.monotonic()
        await asyncio.wait_for(h.closed_event.wait(), 10)  # the upstream saw it end
        upstream_closed = time.monotonic() - start
        rest, _ = await _closed_after(reader, start)
        writer.close()
        return upstream_closed, rest

    upstream_closed, rest = _run(pki, body_sink, probe, body_timeout=SHORT)
    assert SHORT * 0.8 < upstream_closed < SHORT + 3
    assert rest == b""  # nothing was answered: the client is cut off
