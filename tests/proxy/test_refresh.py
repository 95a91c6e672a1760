"""A 401 to a GET leads to one forced refresh (against the test authorization server)
and one retry; other methods get the 401 as it is. Plus the engine in isolation with a
token source of our own: the retry logic and the refusal of CR/LF header values."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials, TokenSet
from authsome.proxy.ca import CertAuthority
from authsome.proxy.http_rules import basic_credential
from authsome.proxy.routes import Route, RouteTable
from authsome.proxy.server import ProxyServer
from authsome.proxy.upstream import Pool, Resolver
from oauth.kit import write_provider
from proxy.conftest import API_HOST, authsome_run, resolve_args
from support.authserver import AuthServer


@pytest.fixture
def oauth_api(vault, upstream):
    with AuthServer() as srv:
        definition = write_provider(vault, srv, "oapi")
        definition["api_url"] = [API_HOST]
        (vault / "providers" / "oapi.json").write_text(json.dumps(definition))
        srv.register_client("rc", "rc-secret", redirect_uris=["http://127.0.0.1/cb"])
        service = CredentialService()
        service.store_client("oapi", ClientCredentials("rc", "rc-secret"))
        minted = srv.issue_tokens("rc", "read")
        later = int(time.time()) + 3600
        service.store_token(
            "oapi",
            "default",
            TokenSet(minted["access_token"], minted["refresh_token"], later, ["read"]),
        )
        old = minted["access_token"]
        # The API has stopped accepting the stored token (revoked elsewhere, say).
        upstream.check = lambda h: bool(
            h and h.startswith("Bearer ") and h[7:] != old and srv.is_active(h[7:])
        )
        yield srv, old


def test_401_on_get_refreshes_once_and_retries(oauth_api, upstream, vault, mode):
    srv, old = oauth_api
    url = f"https://{API_HOST}:{upstream.port}/auth"
    script = f'curl -sS -X POST "{url}"; echo; curl -sS "{url}"; echo; curl -sS "{url}"'
    res = authsome_run(
        *mode, "--only", "oapi", *resolve_args(upstream.port), "--", "sh", "-c", script
    )
    assert res.returncode == 0, res.stderr
    post_body, get_body, again = res.stdout.splitlines()
    assert json.loads(post_body) == {"error": "bad token"}  # a POST is not retried
    assert json.loads(get_body) == json.loads(again) == {"ok": True}
    assert srv.counts["token:refresh_token"] == 1
    sent = [(r["method"], dict(r["headers"])["Authorization"]) for r in upstream.requests]
    assert [m for m, _ in sent] == ["POST", "GET", "GET", "GET"]
    assert sent[0][1] == sent[1][1] == f"Bearer {old}"
    assert sent[2][1] != sent[1][1] and sent[3][1] == sent[2][1]  # refreshed, then kept
    audit = [json.loads(x) for x in (vault / "audit.log").read_text().splitlines()]
    statuses = [(a["method"], a["status"]) for a in audit if a["event"] == "proxy_request"]
    assert statuses == [("POST", 401), ("GET", 200), ("GET", 200)]


class Tokens:
    """An in-test token source: counts calls, hands out `values` in turn."""

    def __init__(self, *values: str):
        self.values = list(values)
        self.calls: list[bool] = []

    def __call__(self, provider, connection, force_refresh):
        self.calls.append(force_refresh)
        if force_refresh and len(self.values) > 1:
            self.values.pop(0)
        return "Authorization", self.values[0]


def _serve(tokens: Tokens, port: int, pki) -> tuple[str, callable]:
    """The proxy engine alone on its threads; returns (proxy url, stop)."""
    import ssl

    routes = RouteTable([Route("t", "default", (API_HOST,))])
    server = ProxyServer(
        routes,
        tokens,
        CertAuthority(routes.names()),
        Pool(Resolver({(API_HOST, port): "127.0.0.1"}), lambda: _ctx(ssl, pki)),
        basic_credential("u", "p"),
    )
    bound = server.start()
    return f"http://u:p@127.0.0.1:{bound}", server.close, server


def _strict(cafile):
    """What Python 3.13 verifies by default: VERIFY_X509_STRICT on our CA and leaf."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def _ctx(ssl, pki):
    return ssl.create_default_context(cafile=str(pki["ca"]))


def test_engine_retries_with_forced_refresh(upstream, pki, tmp_path):
    upstream.valid = {"Bearer new"}
    tokens = Tokens("Bearer old", "Bearer new")
    url, stop, server = _serve(tokens, upstream.port, pki)
    try:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(server.ca.cert_pem)
        with httpx.Client(proxy=url, verify=_strict(ca)) as client:
            r = client.get(f"https://{API_HOST}:{upstream.port}/auth")
            assert r.status_code == 200
            assert tokens.calls == [False, True]
            r = client.head(f"https://{API_HOST}:{upstream.port}/auth")
            assert r.status_code == 200
    finally:
        stop()


def test_engine_refuses_header_with_newline(upstream, pki, tmp_path):
    tokens = Tokens("Bearer x\r\nX-Injected: 1")
    url, stop, server = _serve(tokens, upstream.port, pki)
    try:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(server.ca.cert_pem)
        with httpx.Client(proxy=url, verify=_strict(ca)) as client:
            r = client.get(f"https://{API_HOST}:{upstream.port}/echo")
            assert r.status_code == 502
            assert "control character" in r.text
        assert upstream.requests == []
    finally:
        stop()
