"""The test authorization server answers as the RFCs (through authlib) say it should."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from support.authserver import AuthServer, basic_auth, pkce_pair

REDIRECT = "http://127.0.0.1:7998/auth/callback/oauth"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


pkce = pkce_pair


def authorize(srv: AuthServer, client_id: str, **params: str) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st4te",
        **params,
    }
    return httpx.get(srv.authorization_url, params=query)


def callback_params(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def code_flow(srv: AuthServer, client_id: str = "pub", **token_form: str) -> httpx.Response:
    verifier, challenge = pkce()
    cb = callback_params(
        authorize(
            srv, client_id, code_challenge=challenge, code_challenge_method="S256", scope="read"
        )
    )
    form = {
        "grant_type": "authorization_code",
        "code": cb["code"],
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
        **token_form,
    }
    return httpx.post(srv.token_url, data=form)


def refresh(srv: AuthServer, rt: str, client_id: str = "pub") -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": rt, "client_id": client_id}
    return httpx.post(srv.token_url, data=form)


@pytest.fixture
def srv(auth_server):
    auth_server.register_client("pub", redirect_uris=[REDIRECT])
    return auth_server


# -- authorization code + PKCE ---------------------------------------------------------


def test_code_pkce_exchange_and_protected_resource(srv):
    resp = code_flow(srv)
    assert resp.status_code == 200, resp.text
    tok = resp.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600
    assert tok["scope"] == "read" and tok["refresh_token"]
    assert srv.is_active(tok["access_token"])
    me = httpx.get(
        srv.base_url + "/api/me", headers={"Authorization": f"Bearer {tok['access_token']}"}
    )
    assert me.json() == {"ok": True, "client_id": "pub", "scope": "read"}
    assert (
        httpx.get(srv.base_url + "/api/me", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert srv.counts["authorize"] == 1 and srv.counts["token:authorization_code"] == 1
    assert srv.requests[-1]["form"]["code_verifier"] and srv.requests[-1]["auth_method"] == "none"


def test_pkce_is_verified(srv):
    _, challenge = pkce()
    cb = callback_params(
        authorize(srv, "pub", code_challenge=challenge, code_challenge_method="S256")
    )
    wrong, _ = pkce()
    form = {
        "grant_type": "authorization_code",
        "code": cb["code"],
        "redirect_uri": REDIRECT,
        "client_id": "pub",
        "code_verifier": wrong,
    }
    resp = httpx.post(srv.token_url, data=form)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_public_client_must_send_s256_challenge(srv):
    assert callback_params(authorize(srv, "pub"))["error"] == "invalid_request"
    _, challenge = pkce()
    plain = authorize(srv, "pub", code_challenge=challenge, code_challenge_method="plain")
    assert callback_params(plain)["error"] == "invalid_request"


def test_require_pkce_applies_to_confidential_clients():
    with AuthServer(require_pkce=True) as s:
        s.register_client("conf", "sec", redirect_uris=[REDIRECT])
        assert callback_params(authorize(s, "conf"))["error"] == "invalid_request"
        ok = code_flow(s, "conf", client_secret="sec")
        assert ok.status_code == 200, ok.text


def test_unregistered_redirect_uri_is_not_followed(srv):
    resp = authorize(srv, "pub", redirect_uri="http://127.0.0.1:1/evil")
    assert resp.status_code == 400 and "location" not in resp.headers


def test_deny_next_authorization(srv):
    srv.deny_next_authorization = True
    cb = callback_params(
        authorize(srv, "pub", code_challenge=pkce()[1], code_challenge_method="S256")
    )
    assert cb["error"] == "access_denied" and cb["state"] == "st4te" and "code" not in cb
    assert code_flow(srv).status_code == 200  # only the next one


def test_client_auth_methods_are_honoured(srv):
    srv.register_client("post", "psec", redirect_uris=[REDIRECT])
    srv.register_client(
        "basic", "bsec", redirect_uris=[REDIRECT], token_endpoint_auth_method="client_secret_basic"
    )
    assert code_flow(srv, "post", client_secret="psec").status_code == 200
    assert srv.requests[-1]["auth_method"] == "body"
    # the secret in the wrong place, or a wrong secret, is invalid_client
    assert code_flow(srv, "basic", client_secret="bsec").json()["error"] == "invalid_client"
    assert code_flow(srv, "post", client_secret="wrong").json()["error"] == "invalid_client"
    verifier, challenge = pkce()
    cb = callback_params(
        authorize(srv, "basic", code_challenge=challenge, code_challenge_method="S256")
    )
    form = {
        "grant_type": "authorization_code",
        "code": cb["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    resp = httpx.post(
        srv.token_url, data=form, headers={"Authorization": basic_auth("basic", "bsec")}
    )
    assert resp.status_code == 200, resp.text
    assert srv.requests[-1]["auth_method"] == "basic"


def test_code_is_single_use(srv):
    verifier, challenge = pkce()
    cb = callback_params(
        authorize(srv, "pub", code_challenge=challenge, code_challenge_method="S256")
    )
    form = {
        "grant_type": "authorization_code",
        "code": cb["code"],
        "redirect_uri": REDIRECT,
        "client_id": "pub",
        "code_verifier": verifier,
    }
    assert httpx.post(srv.token_url, data=form).status_code == 200
    assert httpx.post(srv.token_url, data=form).json()["error"] == "invalid_grant"


# -- refresh ------------------------------------------------------------------------------


def test_rotation_and_reuse_revokes_family(srv):
    first = code_flow(srv).json()
    second = refresh(srv, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert srv.is_active(first["access_token"]) and srv.is_active(second["access_token"])
    third = refresh(srv, second["refresh_token"]).json()
    assert srv.revoked_families() == 0
    # a rotated refresh token comes back: the whole family dies
    reuse = refresh(srv, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert srv.revoked_families() == 1
    assert not any(srv.is_active(t["access_token"]) for t in (first, second, third))
    assert refresh(srv, third["refresh_token"]).json()["error"] == "invalid_grant"
    assert srv.revoked_families() == 1  # a revoked family is not counted twice
    assert srv.counts["token:refresh_token"] == 4


def test_reuse_without_family_revocation():
    with AuthServer(reuse_revokes_family=False) as s:
        s.register_client("pub", redirect_uris=[REDIRECT])
        first = code_flow(s).json()
        second = refresh(s, first["refresh_token"]).json()
        assert refresh(s, first["refresh_token"]).json()["error"] == "invalid_grant"
        assert s.revoked_families() == 0 and s.is_active(second["access_token"])
        assert refresh(s, second["refresh_token"]).status_code == 200


def test_without_rotation_the_refresh_token_stays():
    with AuthServer(rotate_refresh=False, access_ttl=60) as s:
        s.register_client("pub", redirect_uris=[REDIRECT])
        first = code_flow(s).json()
        for _ in range(2):
            again = refresh(s, first["refresh_token"]).json()
            assert "refresh_token" not in again and again["expires_in"] == 60


def test_expire_access_tokens_and_issue_tokens(srv):
    tok = srv.issue_tokens("pub", scope="read write")
    assert tok["scope"] == "read write" and srv.is_active(tok["access_token"])
    srv.expire_access_tokens()
    assert not srv.is_active(tok["access_token"])
    headers = {"Authorization": f"Bearer {tok['access_token']}"}
    assert httpx.get(srv.base_url + "/api/me", headers=headers).status_code == 401
    new = refresh(srv, tok["refresh_token"]).json()
    assert srv.is_active(new["access_token"])
    assert srv.counts["token:authorization_code"] == 0  # minting is not a request


# -- device code ---------------------------------------------------------------------------


def device_poll(srv: AuthServer, device_code: str) -> httpx.Response:
    data = {"grant_type": DEVICE, "device_code": device_code, "client_id": "pub"}
    return httpx.post(srv.token_url, data=data)


def test_device_flow_with_slow_down(srv):
    start = httpx.post(srv.device_authorization_url, data={"client_id": "pub", "scope": "read"})
    assert start.status_code == 200
    dev = start.json()
    assert dev["interval"] == 1 and dev["verification_uri"] == srv.device_verification_url
    assert dev["verification_uri_complete"].endswith(dev["user_code"])
    srv.set_slow_down(2)
    errors = [device_poll(srv, dev["device_code"]).json()["error"] for _ in range(3)]
    assert errors == ["slow_down", "slow_down", "authorization_pending"]
    assert srv.pending_user_code() == dev["user_code"]
    srv.approve_device()
    tok = device_poll(srv, dev["device_code"]).json()
    assert tok["scope"] == "read" and srv.is_active(tok["access_token"])
    assert device_poll(srv, dev["device_code"]).status_code == 400  # device code used up
    assert srv.counts["token:device_code"] == 5 and srv.counts["device_authorization"] == 1


def test_device_denied_and_expired(srv):
    srv.device_interval = 3
    first = httpx.post(srv.device_authorization_url, data={"client_id": "pub"}).json()
    assert first["interval"] == 3
    srv.deny_device(first["user_code"])
    assert device_poll(srv, first["device_code"]).json()["error"] == "access_denied"
    second = httpx.post(srv.device_authorization_url, data={"client_id": "pub"}).json()
    srv.expire_device()
    assert device_poll(srv, second["device_code"]).json()["error"] == "expired_token"
    with pytest.raises(LookupError):
        srv.approve_device(timeout=0.1)


def test_device_verification_page_can_approve(srv):
    srv.device_auto_approve = True
    dev = httpx.post(srv.device_authorization_url, data={"client_id": "pub"}).json()
    assert httpx.get(dev["verification_uri_complete"]).status_code == 200
    assert device_poll(srv, dev["device_code"]).status_code == 200


# -- registration, revocation, metadata -------------------------------------------------


def test_dynamic_registration(auth_server):
    srv = auth_server
    public = httpx.post(
        srv.registration_url,
        json={
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "authsome",
        },
    )
    assert public.status_code == 201, public.text
    reg = public.json()
    assert "client_secret" not in reg and reg["token_endpoint_auth_method"] == "none"
    tok = code_flow(srv, reg["client_id"]).json()
    assert tok["refresh_token"]
    # RFC 7591 default grant_types is authorization_code alone: no refresh token
    conf = httpx.post(srv.registration_url, json={"redirect_uris": [REDIRECT]}).json()
    assert conf["client_secret"] and conf["token_endpoint_auth_method"] == "client_secret_basic"
    verifier, challenge = pkce()
    cb = callback_params(
        authorize(srv, conf["client_id"], code_challenge=challenge, code_challenge_method="S256")
    )
    form = {
        "grant_type": "authorization_code",
        "code": cb["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    auth = basic_auth(conf["client_id"], conf["client_secret"])
    tok = httpx.post(srv.token_url, data=form, headers={"Authorization": auth}).json()
    assert "refresh_token" not in tok and tok["access_token"]
    bad = httpx.post(srv.registration_url, json={"redirect_uris": ["not a url"]})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata"
    assert srv.counts["register"] == 3
    assert srv.requests[0]["json"]["client_name"] == "authsome"


def test_revocation(srv):
    tok = code_flow(srv).json()
    revoke = {"client_id": "pub", "token": tok["access_token"], "token_type_hint": "access_token"}
    assert httpx.post(srv.revocation_url, data=revoke).status_code == 200
    assert not srv.is_active(tok["access_token"])
    assert refresh(srv, tok["refresh_token"]).status_code == 200  # refresh token survives
    tok = code_flow(srv).json()
    revoke = {"client_id": "pub", "token": tok["refresh_token"]}
    assert httpx.post(srv.revocation_url, data=revoke).status_code == 200
    assert not srv.is_active(tok["access_token"])  # RFC 7009 2.1: its access tokens go too
    assert refresh(srv, tok["refresh_token"]).json()["error"] == "invalid_grant"
    unknown = {"client_id": "pub", "token": "never-issued"}
    assert httpx.post(srv.revocation_url, data=unknown).status_code == 200
    assert srv.counts["revoke"] == 3 and srv.revoked_families() == 0


def test_metadata(srv):
    meta = httpx.get(srv.metadata_url).json()
    AuthorizationServerMetadata(meta).validate()
    assert meta["issuer"] == srv.issuer == srv.base_url
    assert meta["token_endpoint"] == srv.token_url
    assert meta["device_authorization_endpoint"] == srv.device_authorization_url
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert srv.metadata_url.endswith("/.well-known/oauth-authorization-server")


# -- quirks --------------------------------------------------------------------------------


def quirky(quirks: set[str]) -> tuple[httpx.Response, httpx.Response]:
    """A successful code exchange and a failed refresh, against a server with quirks."""
    with AuthServer(quirks=quirks) as s:
        s.register_client("pub", redirect_uris=[REDIRECT], scope="read write")
        ok = code_flow(s, scope="read write")
        return ok, refresh(s, "bogus")


def test_quirk_form():
    ok, bad = quirky({"form"})
    assert ok.headers["content-type"] == "application/x-www-form-urlencoded"
    body = parse_qs(ok.text)
    assert body["access_token"] and body["token_type"] == ["Bearer"]
    assert body["expires_in"] == ["3600"] and body["scope"] == ["read"]
    assert bad.status_code == 400 and parse_qs(bad.text)["error"] == ["invalid_grant"]


def test_quirk_error_200():
    ok, bad = quirky({"error_200"})
    assert ok.status_code == 200 and ok.json()["access_token"]
    assert bad.status_code == 200 and bad.json()["error"] == "invalid_grant"


def test_quirk_slack():
    with AuthServer(quirks={"slack"}) as s:
        s.register_client("pub", redirect_uris=[REDIRECT], scope="read write")
        verifier, challenge = pkce()
        cb = callback_params(
            authorize(
                s, "pub", code_challenge=challenge, code_challenge_method="S256", scope="read write"
            )
        )
        form = {
            "grant_type": "authorization_code",
            "code": cb["code"],
            "redirect_uri": REDIRECT,
            "client_id": "pub",
            "code_verifier": verifier,
        }
        body = httpx.post(s.token_url, data=form).json()
        assert body["ok"] is True and "access_token" not in body
        user = body["authed_user"]
        assert user["scope"] == "read,write" and user["expires_in"] == 3600
        assert s.is_active(user["access_token"])
        bad = refresh(s, "bogus")
        assert bad.status_code == 200 and bad.json() == {"ok": False, "error": "invalid_grant"}
        assert refresh(s, user["refresh_token"]).json()["authed_user"]["refresh_token"]


def test_quirk_scope_list_and_no_expires_in():
    ok, bad = quirky({"scope_list", "no_expires_in"})
    assert ok.json()["scope"] == ["read"] and "expires_in" not in ok.json()
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def test_unknown_quirk_is_refused():
    with pytest.raises(ValueError):
        AuthServer(quirks={"nope"})


# -- provider definition -----------------------------------------------------------------


@pytest.mark.parametrize("flow", ["pkce", "device_code", "dcr_pkce"])
def test_provider_definition_loads_in_authsome(auth_server, home, flow):
    from authsome.providers import load_registry

    path = auth_server.write_provider(home, "testauth", flow=flow, client_auth="basic")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    registry = load_registry(str(home))
    provider = registry.get("testauth")
    assert not registry.errors
    assert provider.flow == flow and provider.source == "custom"
    assert provider.oauth.token_url == auth_server.token_url
    assert provider.oauth.client_auth == "basic" and provider.oauth.pkce is True
    assert provider.env["access_token"] == "TESTAUTH_ACCESS_TOKEN"
