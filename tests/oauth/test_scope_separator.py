"""`oauth.scope_separator`: the authorization URL and the device request join scopes with
it; DCR registration metadata stays space-separated (RFC 7591 §2)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from authsome.oauth import authorize
from oauth.kit import Login, redirect, write_provider


@pytest.mark.parametrize(
    ("separator", "raw", "decoded"),
    [(" ", "scope=a%20b%3Ac", "a b:c"), (",", "scope=a,b%3Ac", "a,b:c")],
)
def test_authorization_url_joins_scopes_with_the_separator(separator, raw, decoded):
    url = authorize.authorization_url(
        "https://idp.example/authorize",
        client_id="cid",
        redirect=authorize.redirect_uri(7998),
        scopes=["a", "b:c"],
        state="st",
        verifier=None,
        scope_separator=separator,
    )
    assert raw in urlsplit(url).query.split("&")  # a bare comma, as Slack documents it
    assert parse_qs(urlsplit(url).query)["scope"] == [decoded]


def test_code_flow_sends_comma_separated_scopes(home, server, port, browser):
    write_provider(home, server, "cs", scope_separator=",")
    server.register_client("cli", redirect_uris=[redirect(port)], scope="read write")
    login = Login("cs", "--client-id", "cli")
    assert login.wait() == 0, login.err
    authorize_url = browser.read_text().splitlines()[0]
    assert "scope=read,write" in urlsplit(authorize_url).query.split("&")
    # What the server made of it, recorded rather than worked around: authlib splits on
    # spaces only (RFC 6749 §3.3), reads one unknown scope "read,write", keeps none of it
    # in the code, and the token then gets the client's default scope.
    with server._backend.lock:
        [token] = server._backend.store.by_access.values()
    assert token.scope == "read write"


def test_device_request_sends_comma_separated_scopes(home, server):
    write_provider(home, server, "dc", flow="device_code", scope_separator=",")
    server.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    login = Login("dc", "--client-id", "dev", "--no-browser")
    try:
        server.pending_user_code(timeout=10)
    finally:
        login.kill()
    [req] = [r for r in server.requests if r["endpoint"] == "device_authorization"]
    assert req["form"]["scope"] == "read,write"


def test_dcr_registration_scope_stays_space_separated(home, server, port, browser):
    write_provider(
        home,
        server,
        "dr",
        flow="dcr_pkce",
        supports_dcr=True,
        registration_url=server.registration_url,
        scope_separator=",",
    )
    login = Login("dr")
    assert login.wait() == 0, login.err
    [req] = [r for r in server.requests if r["endpoint"] == "register"]
    assert req["json"]["scope"] == "read write"
    assert "scope=read,write" in browser.read_text().splitlines()[0]
