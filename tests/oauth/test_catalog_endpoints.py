"""Bundled definitions whose token or revocation requests have their own shape, run
against the real test authorization server: HubSpot's 2026-03 endpoints (form body,
client credentials in the body, revoke with token and token_type_hint); Todoist's
RFC 7009 revocation, which wants HTTP Basic where its token endpoint takes the form;
Figma's refresh endpoint apart from its token endpoint; QuickBooks' JSON revocation
beside its form token endpoint."""

from __future__ import annotations

import json
import time

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials, TokenSet
from authsome.providers.loader import BUNDLED_DIR
from oauth.kit import assert_no_leak, secrets_seen
from support.authserver import AuthServer
from support.providers import write_definition

SECRET = "cat-client-secret-31"


def bundled(name: str) -> dict:
    with open(f"{BUNDLED_DIR}/{name}.json", encoding="utf-8") as f:
        return json.load(f)


def connect_bundled(home, srv: AuthServer, name: str, expired: bool, **client) -> dict:
    """The bundled definition with only its endpoints moved to the test server; a client
    and tokens the server minted, stored as a login would have."""
    definition = bundled(name)
    definition["oauth"].update(
        authorization_url=srv.authorization_url,
        token_url=srv.token_url,
        revocation_url=srv.revocation_url,
    )
    if definition["oauth"].get("refresh_url"):
        definition["oauth"]["refresh_url"] = srv.refresh_url
    write_definition(home, definition)
    srv.register_client("cc", SECRET, redirect_uris=["http://127.0.0.1/cb"], **client)
    service = CredentialService()
    service.store_client(name, ClientCredentials("cc", SECRET))
    minted = srv.issue_tokens("cc", "read")
    expires_at = int(time.time()) + (-10 if expired else 3600)
    token = TokenSet(minted["access_token"], minted["refresh_token"], expires_at, ["read"])
    service.store_token(name, "default", token)
    return minted


def test_hubspot_uses_the_2026_03_endpoints_with_their_request_shapes(home, run):
    oauth = bundled("hubspot")["oauth"]
    # v1 (/oauth/v1/token) is deprecated on 2027-02-16: HubSpot's migration guide
    assert oauth["token_url"] == "https://api.hubapi.com/oauth/2026-03/token"
    assert oauth["revocation_url"] == "https://api.hubapi.com/oauth/2026-03/token/revoke"
    # HubSpot's reference shows no success body for revoke: a 204 without one is a success
    with AuthServer(quirks={"revoke_204"}) as srv:
        minted = connect_bundled(home, srv, "hubspot", expired=True)
        got = run("authsome-helper", "get", "hubspot")
        assert got.returncode == 0, got.stderr
        (refresh,) = [r for r in srv.requests if r["endpoint"] == "token"]
        assert refresh["auth_method"] == "body" and refresh["status"] == 200
        assert refresh["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert {"grant_type", "refresh_token", "client_id", "client_secret"} <= set(refresh["form"])
        out = run("authsome", "logout", "hubspot")
        assert out.returncode == 0 and "Revoked" in out.stderr, out.stderr
        revokes = [r for r in srv.requests if r["endpoint"] == "revoke"]
        assert [r["form"]["token_type_hint"] for r in revokes] == [
            "refresh_token",
            "access_token",
        ]
        assert all(r["form"]["client_id"] == "cc" for r in revokes)
        assert all(r["form"]["client_secret"] == SECRET for r in revokes)
        assert not srv.is_active(json.loads(got.stdout)["access_token"])
        assert minted["refresh_token"] not in got.stdout
        assert_no_leak([got.stderr, out.stdout, out.stderr], home, secrets_seen(srv))


def test_todoist_revokes_with_http_basic_while_its_token_endpoint_takes_the_form(home, run):
    assert bundled("todoist")["oauth"]["revocation_client_auth"] == "basic"
    with AuthServer() as srv:
        minted = connect_bundled(
            home, srv, "todoist", expired=False, revocation_auth_method="client_secret_basic"
        )
        out = run("authsome", "logout", "todoist")
        assert out.returncode == 0 and "Revoked" in out.stderr, out.stderr
        revokes = [r for r in srv.requests if r["endpoint"] == "revoke"]
        assert revokes and all(r["auth_method"] == "basic" for r in revokes)
        assert all(r["status"] == 200 for r in revokes)
        assert not srv.is_active(minted["access_token"])


def test_notion_token_and_revoke_requests_are_json_with_http_basic(home, run):
    oauth = bundled("notion")["oauth"]
    assert oauth["request_body"] == "json" and oauth["client_auth"] == "basic"
    assert oauth["revocation_url"] == "https://api.notion.com/v1/oauth/revoke"
    # a server that reads only JSON bodies: a form would arrive as no parameters at all
    with AuthServer(quirks={"json_body"}) as srv:
        connect_bundled(
            home, srv, "notion", expired=True, token_endpoint_auth_method="client_secret_basic"
        )
        got = run("authsome-helper", "get", "notion")
        assert got.returncode == 0, got.stderr
        out = run("authsome", "logout", "notion")
        assert out.returncode == 0 and "Revoked" in out.stderr, out.stderr
        sent = [r for r in srv.requests if r["endpoint"] in ("token", "revoke")]
        assert [r["endpoint"] for r in sent] == ["token", "revoke", "revoke"]
        assert all(r["headers"]["Content-Type"] == "application/json" for r in sent)
        assert all(r["auth_method"] == "basic" and r["status"] == 200 for r in sent)
        assert sent[0]["form"]["grant_type"] == "refresh_token"
        assert not srv.is_active(json.loads(got.stdout)["access_token"])
        assert_no_leak([got.stderr, out.stdout, out.stderr], home, secrets_seen(srv))


def test_figma_refreshes_at_its_own_refresh_endpoint(home, run):
    oauth = bundled("figma")["oauth"]
    # Figma's OpenAPI spec: tokenUrl .../v1/oauth/token, refreshUrl .../v1/oauth/refresh
    assert oauth["token_url"] == "https://api.figma.com/v1/oauth/token"
    assert oauth["refresh_url"] == "https://api.figma.com/v1/oauth/refresh"
    with AuthServer(quirks={"refresh_elsewhere"}) as srv:
        connect_bundled(
            home, srv, "figma", expired=True, token_endpoint_auth_method="client_secret_basic"
        )
        got = run("authsome-helper", "get", "figma")
        assert got.returncode == 0, got.stdout + got.stderr
        sent = [r for r in srv.requests if r["endpoint"] in ("token", "refresh")]
        assert [(r["endpoint"], r["grant_type"], r["status"]) for r in sent] == [
            ("refresh", "refresh_token", 200)
        ]
        assert sent[0]["auth_method"] == "basic"
        assert srv.is_active(json.loads(got.stdout)["access_token"])
        assert_no_leak([got.stderr], home, secrets_seen(srv))


def test_quickbooks_revokes_with_a_json_body_while_its_token_endpoint_takes_a_form(home, run):
    oauth = bundled("quickbooks")["oauth"]
    # Intuit's discovery document names the revocation endpoint; its guide, the JSON body
    assert oauth["revocation_url"] == "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    assert oauth["revocation_body"] == "json" and oauth.get("request_body", "form") == "form"
    assert oauth["client_auth"] == "basic"
    # a server whose /revoke reads only JSON and /token only a form: the wrong one of
    # either would arrive as no parameters at all
    with AuthServer(quirks={"json_revoke"}) as srv:
        connect_bundled(
            home, srv, "quickbooks", expired=True, token_endpoint_auth_method="client_secret_basic"
        )
        got = run("authsome-helper", "get", "quickbooks")
        assert got.returncode == 0, got.stdout + got.stderr
        out = run("authsome", "logout", "quickbooks")
        assert out.returncode == 0 and "Revoked" in out.stderr, out.stderr
        sent = [r for r in srv.requests if r["endpoint"] in ("token", "revoke")]
        assert [r["endpoint"] for r in sent] == ["token", "revoke", "revoke"]
        ctype = [r["headers"]["Content-Type"] for r in sent]
        assert ctype == ["application/x-www-form-urlencoded"] + ["application/json"] * 2
        assert all(r["auth_method"] == "basic" and r["status"] == 200 for r in sent)
        assert sent[0]["form"]["grant_type"] == "refresh_token"
        assert all(r["form"]["token"] for r in sent[1:])
        assert not srv.is_active(json.loads(got.stdout)["access_token"])
        assert_no_leak([got.stderr, out.stdout, out.stderr], home, secrets_seen(srv))
