"""Injection goes only where the child addressed the API host (SPEC §6.8, issue #14 item 1).

Inside a CONNECT to the API host, a request whose `Host` or absolute-form target names
another host would, on a CDN or gateway that routes by `Host`, take the token to
another tenant: the proxy answers 421 and sends nothing. `TRACE` (which reflects the
injected header) gets 405. The audit entry names the host the child addressed.
"""

from __future__ import annotations

import json

import pytest

from authsome.proxy.addressed import check_addressed
from proxy.conftest import API_HOST, TOKEN, authsome_run, resolve_args

EVIL = "evil.example.test"


def _curl(upstream, *extra: str) -> list[str]:
    url = f"https://{API_HOST}:{upstream.port}/echo"
    return ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *extra, url]


def _audit(home) -> list[dict]:
    lines = [json.loads(x) for x in (home / "audit.log").read_text().splitlines()]
    return [x for x in lines if x["event"] == "proxy_request"]


@pytest.mark.parametrize(
    "extra",
    [
        ["-H", f"Host: {EVIL}"],
        ["--request-target", f"https://{EVIL}/echo"],
    ],
    ids=["host-header", "absolute-form"],
)
def test_another_host_named_inside_the_tunnel_gets_421_and_no_token(vault, upstream, extra):
    res = authsome_run(*resolve_args(upstream.port), "--", *_curl(upstream, *extra))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "421"
    assert upstream.requests == []  # nothing went out, with or without the token
    entries = _audit(vault)
    assert [(e["host"], e["status"]) for e in entries] == [(EVIL, 421)]
    assert TOKEN not in (vault / "audit.log").read_text()


def test_trace_gets_405_and_is_not_forwarded(vault, upstream):
    res = authsome_run(*resolve_args(upstream.port), "--", *_curl(upstream, "-X", "TRACE"))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "405"
    assert upstream.requests == []


def test_the_api_host_itself_still_gets_the_token(vault, upstream):
    # the same host in other spellings (case, trailing dot, absolute form) is the host
    port = upstream.port
    extra = ["-H", f"Host: API.Example.Test.:{port}"]
    res = authsome_run(*resolve_args(port), "--", *_curl(upstream, *extra))
    assert (res.returncode, res.stdout) == (0, "200"), res.stderr
    extra = ["--request-target", f"https://{API_HOST}:{port}/echo"]
    res = authsome_run(*resolve_args(port), "--", *_curl(upstream, *extra))
    assert (res.returncode, res.stdout) == (0, "200"), res.stderr
    assert [dict(r["headers"]).get("Authorization") for r in upstream.requests] == [
        f"Bearer {TOKEN}"
    ] * 2


EXPECTED = (API_HOST, 443)


@pytest.mark.parametrize(
    "method, target, host, status",
    [
        (b"GET", b"/x", API_HOST, None),
        (b"GET", b"/x", "api.example.test:443", None),
        (b"GET", b"/x", "API.EXAMPLE.TEST.", None),
        (b"GET", b"https://api.example.test/x", None, None),
        (b"GET", b"https://api.example.test:443/x", API_HOST, None),
        (b"OPTIONS", b"*", API_HOST, None),
        (b"GET", b"/x", "api.example.test:8443", 421),
        (b"GET", b"/x", "api.example.test:444", 421),
        (b"GET", b"/x", None, 421),  # names no host: a gateway may pick a default tenant
        (b"GET", b"http://evil.example:443/x", API_HOST, 421),
        (b"GET", b"/x", EVIL, 421),
        (b"GET", b"https://evil.example.test/x", API_HOST, 421),
        (b"GET", b"https://evil.example.test/x", None, 421),
        (b"GET", b"http://api.example.test/x", API_HOST, 421),
        (b"GET", b"/x", "evil.test\\@api.example.test", 400),
        (b"GET", b"/x", "user@api.example.test", 400),
        (b"GET", b"https://user@api.example.test/x", API_HOST, 400),
        (b"GET", b"https://evil.test\\@api.example.test/x", API_HOST, 400),
        (b"TRACE", b"/x", API_HOST, 405),
        (b"CONNECT", b"api.example.test:443", API_HOST, 405),
        (b"CONNECT", b"evil.example.test:443", API_HOST, 405),
    ],
)
def test_check_addressed(method, target, host, status):
    headers = [(b"host", host.encode())] if host is not None else []
    refusal = check_addressed(EXPECTED, method, target, headers)
    assert (refusal.status if refusal else None) == status


def test_check_addressed_names_the_host_addressed_and_refuses_two_hosts():
    refusal = check_addressed(EXPECTED, b"GET", b"/", [(b"host", b"Evil.Example.Test:8443")])
    assert refusal is not None and refusal.host == "evil.example.test:8443"
    two = [(b"host", API_HOST.encode()), (b"host", EVIL.encode())]
    assert check_addressed(EXPECTED, b"GET", b"/", two).status == 400
    # the sandbox's direct-TLS listener: expected = (SNI, the port it listens on)
    port_8443 = [(b"host", b"api.example.test:8443")]
    assert check_addressed(("api.example.test", 8443), b"GET", b"/", port_8443) is None
    bare = [(b"host", b"api.example.test")]  # no port written: the host decides
    assert check_addressed(("api.example.test", 8443), b"GET", b"/", bare) is None
    port_443 = [(b"host", b"api.example.test:443")]
    assert check_addressed(("api.example.test", 8443), b"GET", b"/", port_443).status == 421
