"""The proxy's limits, against the real ProxyServer on loopback (in process), and
fuzzing of its pure pieces: Proxy-Authorization, CONNECT authorities, header rules.

Limits (authsome.proxy.limits): a cap on the request head (431/414), a header timeout
(slowloris), an idle keep-alive timeout and an upstream read timeout (504). The timeout
tests run the real server with short Limits so they take seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authsome.proxy import http_rules
from authsome.proxy.ca import CertAuthority
from authsome.proxy.limits import Limits
from authsome.proxy.routes import Route, RouteTable
from authsome.proxy.server import ProxyServer
from authsome.proxy.upstream import Pool, Resolver
from hardening.fuzzkit import tally

pytestmark = pytest.mark.timeout(120)
CRED = http_rules.basic_credential("authsome", "per-run-secret")
AUTH_LINE = b"Proxy-Authorization: " + CRED + b"\r\n"
PATIENCE = 8.0  # seconds a stalled client may hold a connection in these tests


def _header(provider: str, connection: str, force: bool) -> tuple[str, str]:
    return "Authorization", "Bearer limits-token"


SHORT = Limits(header_timeout=2.0, idle_timeout=2.0, body_timeout=2.0, upstream_read_timeout=2.0)


def _server(**options) -> ProxyServer:
    """The real proxy engine for `api.limits.test` (nothing answers there)."""
    routes = RouteTable([Route("p", "default", ("api.limits.test",))])
    return ProxyServer(
        routes,
        _header,
        CertAuthority(routes.names()),
        Pool(Resolver(), ssl.create_default_context),
        CRED,
        **options,
    )


async def _with_proxy(probe, limits: Limits | None = None):
    server = _server(limits=limits)
    port = server.start()
    try:
        return await probe(port)
    finally:
        await asyncio.to_thread(server.close)


async def _exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(data)
        await w.drain()
        return await asyncio.wait_for(r.read(4096), timeout)
    finally:
        w.close()


async def _closed_within(port: int, data: bytes, seconds: float) -> float | None:
    """Send `data` and stall; when did the proxy close the connection (None: never)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    w.write(data)
    await w.drain()
    try:
        while await asyncio.wait_for(r.read(4096), seconds - (time.monotonic() - start)):
            pass
        return time.monotonic() - start
    except (TimeoutError, ConnectionError):
        return None
    finally:
        w.close()


def test_oversized_request_head_is_refused():
    async def probe(port):
        big_header = (
            b"GET http://example.test/ HTTP/1.1\r\n"
            + AUTH_LINE
            + b"X-Big: "
            + b"a" * 70_000
            + b"\r\n\r\n"
        )
        long_line = (
            b"GET http://example.test/" + b"a" * 70_000 + b" HTTP/1.1\r\n" + AUTH_LINE + b"\r\n"
        )
        many = b"GET http://example.test/ HTTP/1.1\r\n" + AUTH_LINE + b"X: y\r\n" * 5000 + b"\r\n"
        return [await _exchange(port, raw) for raw in (big_header, long_line, many)]

    for answer in asyncio.run(_with_proxy(probe)):
        assert answer.startswith((b"HTTP/1.1 431", b"HTTP/1.1 414", b"HTTP/1.1 400")), answer[:60]


def test_missing_or_wrong_proxy_credential_gets_407_and_connection_stays():
    async def probe(port):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for auth in (
            b"",
            b"Proxy-Authorization: Basic " + base64.b64encode(b"authsome:wrong") + b"\r\n",
        ):
            w.write(
                b"CONNECT api.limits.test:443 HTTP/1.1\r\nHost: api.limits.test:443\r\n"
                + auth
                + b"\r\n"
            )
            await w.drain()
            answers.append(await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10))
            length = int(answers[-1].lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await r.readexactly(length)
        w.close()
        return answers

    first, second = asyncio.run(_with_proxy(probe))
    assert first.startswith(b"HTTP/1.1 407") and second.startswith(b"HTTP/1.1 407")


def test_out_of_threads_refuses_one_connection_not_the_run(monkeypatch):
    """A thread per client connection: when none can be started, that client is
    refused and the proxy goes on serving the next one."""
    import socket
    import threading

    warnings: list[str] = []
    server = _server(warn=warnings.append)
    real_start, failed = threading.Thread.start, []

    def start(thread):
        if getattr(thread, "_target", None) == server._client and not failed:
            failed.append(thread)
            raise RuntimeError("can't start new thread")
        return real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    port = server.start()
    try:
        refused = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert refused.recv(100) == b""  # closed without an answer
        refused.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as ok:
            ok.sendall(b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n")
            assert ok.recv(100).startswith(b"HTTP/1.1 407 ")
    finally:
        server.close()
    assert failed and warnings == ["proxy: out of threads; a connection was refused"]


def test_slowloris_head_is_cut_off():
    async def probe(port):
        return await asyncio.gather(
            _closed_within(port, b"GET http://example.test/ HTTP/1.1\r\nX-Slow: a", PATIENCE),
            _closed_within(port, b"CONNECT api.limits.test:443 HTTP/1.1\r\n", PATIENCE),
        )

    plain, connect = asyncio.run(_with_proxy(probe, SHORT))
    assert plain is not None and connect is not None, (plain, connect)


def test_idle_keepalive_client_is_closed():
    async def probe(port):
        # answered 407 on a connection that stays open (SPEC §6.1), then silence
        req = b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n"
        return await _closed_within(port, req, PATIENCE)

    assert asyncio.run(_with_proxy(probe, SHORT)) is not None


def test_stalled_upstream_gets_504():
    """An upstream that accepts and never answers: 504 once upstream_read_timeout passes."""

    async def probe(port):
        async def mute(reader, writer):
            await asyncio.sleep(30)
            writer.close()

        up = await asyncio.start_server(mute, "127.0.0.1", 0)
        up_port = up.sockets[0].getsockname()[1]
        host = f"127.0.0.1:{up_port}".encode()
        req = b"GET http://" + host + b"/ HTTP/1.1\r\nHost: " + host + b"\r\n" + AUTH_LINE + b"\r\n"
        try:
            start = time.monotonic()
            answer = await _exchange(port, req, timeout=PATIENCE)
            return answer, time.monotonic() - start
        finally:
            up.close()

    answer, took = asyncio.run(_with_proxy(probe, SHORT))
    assert answer.startswith(b"HTTP/1.1 504") and took < PATIENCE, (answer[:60], took)


def test_default_limits_are_set():
    """The shipped values: generous for real clients (LLM streams, slow uploads), finite."""
    d = Limits()
    assert 0 < d.header_timeout <= 60 and 0 < d.idle_timeout <= 600
    assert 0 < d.upstream_read_timeout <= 3600 and d.max_head <= 1 << 20


# -- the pure pieces, fuzzed -------------------------------------------------------------

header_lists = st.lists(
    st.tuples(
        st.sampled_from([b"proxy-authorization", b"Proxy-Authorization", b"x", b"connection"]),
        st.binary(max_size=60)
        | st.sampled_from([CRED, b"basic " + CRED[6:], CRED + b" ", b"Basic"]),
    ),
    max_size=4,
)


@given(headers=header_lists)
def test_proxy_authorized_only_with_the_credential(headers):
    tally("proxy.http_rules.proxy_authorized")
    ok = http_rules.proxy_authorized(headers, CRED)
    first = next((v for n, v in headers if n.lower() == b"proxy-authorization"), None)
    if ok:
        scheme, _, rest = first.strip().partition(b" ")
        assert scheme.lower() == b"basic" and rest.strip() == CRED[6:]


@given(
    authority=st.text(max_size=40)
    | st.sampled_from(["[::1]:443", "[::1", "a:b:c", "h:0", "h:65536", "h:-1", ":443"])
)
def test_split_authority_only_value_error(authority):
    tally("proxy.http_rules.split_authority")
    try:
        host, port = http_rules.split_authority(authority, 443)
    except ValueError:
        return
    assert 0 < port < 65536 and host == host.lower()


@pytest.mark.parametrize("authority", [".", "..:443", "[.]:443"])
def test_split_authority_refuses_empty_hosts(authority):
    with pytest.raises(ValueError):
        http_rules.split_authority(authority, 443)


@given(
    headers=st.lists(
        st.tuples(st.binary(min_size=1, max_size=15), st.binary(max_size=30)), max_size=6
    ),
    name=st.text(max_size=15),
    value=st.text(max_size=30),
)
def test_header_rules(headers, name, value):
    tally("proxy.http_rules.strip_hop_by_hop/set_header")
    kept = http_rules.strip_hop_by_hop(headers)
    assert not any(n.lower() in http_rules.HOP_BY_HOP for n, _ in kept)
    try:
        out = http_rules.set_header(kept, name, value)
    except (http_rules.HeaderRefused, UnicodeEncodeError):
        return
    key = name.encode("latin-1").lower()
    assert [v for n, v in out if n.lower() == key] == [value.encode("latin-1")]


@given(host=st.text(max_size=30), path=st.text(max_size=30))
def test_route_matching_any_host(host, path):
    tally("proxy.routes.match/intercepts")
    table = RouteTable(
        [
            Route("p", "default", ("api.limits.test", "api.limits.test/v2")),
            Route("q", "c", ("regex:.*\\.q\\.test",)),
        ]
    )
    table.match(host, path)
    table.intercepts(host)
