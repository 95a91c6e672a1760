"""SPEC §6.8: on an intercepted connection the token goes only to the host the child
connected to; another Host or absolute-form authority gets 421, TRACE gets 405."""

from __future__ import annotations

import pytest

from authsome.proxy.http11 import misdirected

HOST = "api.example.test"


@pytest.mark.parametrize(
    "target,host_header,port",
    [
        (b"/x", b"api.example.test", 443),
        (b"/x", b"API.example.test.", 443),
        (b"/x", b"api.example.test:443", 443),
        (b"/x", b"api.example.test:8443", 8443),
        (b"https://api.example.test/x", b"api.example.test", 443),
    ],
)
def test_the_connected_host_passes(target, host_header, port):
    assert misdirected(b"GET", target, [(b"Host", host_header)], HOST, port) is None


@pytest.mark.parametrize(
    "target,headers,port",
    [
        (b"/x", [(b"host", b"evil.example")], 443),
        (b"/x", [(b"host", b"api.example.test")] * 1 + [(b"host", b"evil.example")], 443),
        (b"/x", [(b"host", b"api.example.test")], 8443),  # same name, other port
        (b"/x", [(b"host", b"api.example.test:444")], 443),
        (b"https://evil.example/x", [(b"host", b"api.example.test")], 443),
        (b"http://evil.example:443/x", [(b"host", b"api.example.test")], 443),
        (b"/x", [], 443),
    ],
)
def test_another_host_is_misdirected(target, headers, port):
    status, text = misdirected(b"GET", target, headers, HOST, port)
    assert status == 421 and "api.example.test" in text


def test_trace_is_refused():
    assert misdirected(b"TRACE", b"/", [(b"host", HOST.encode())], HOST, 443)[0] == 405
