"""Refresh (with rotation, quirks, single-flight across 16 processes) and revocation,
against the real test authorization server."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from authsome.credentials import CredentialService
from authsome.errors import OAuthError
from authsome.oauth.refresh import refresh
from authsome.oauth.revoke import revoke
from authsome.oauth.tokens import ClientCredentials, TokenSet
from oauth.kit import assert_no_leak, free_port, secrets_seen, tool, write_provider
from support.authserver import AuthServer

SECRET = "rf-client-secret-77"


def connect(home, srv, name="rf", expired=True, **oauth):
    """A connection whose tokens the server minted (as if a login had happened)."""
    write_provider(home, srv, name, **oauth)
    srv.register_client("rc", SECRET, redirect_uris=["http://127.0.0.1/cb"])
    service = CredentialService()
    service.store_client(name, ClientCredentials("rc", SECRET))
    minted = srv.issue_tokens("rc", "read")
    expires_at = int(time.time()) - 10 if expired else int(time.time()) + 3600
    service.store_token(
        name,
        "default",
        TokenSet(minted["access_token"], minted["refresh_token"], expires_at, ["read"]),
    )
    return minted


def stored(name="rf"):
    return CredentialService().record(name, "default")


def test_refresh_with_rotation(home, server, run):
    first = connect(home, server)
    res = run("authsome-helper", "get", "rf")
    assert res.returncode == 0, res.stderr
    token = json.loads(res.stdout)["access_token"]
    assert token != first["access_token"] and server.is_active(token)
    assert server.counts["token:refresh_token"] == 1
    rec = stored()
    assert rec["refresh_token"] != first["refresh_token"]  # the rotated one is kept
    assert rec["scopes"] == ["read"]
    # the next refresh uses the rotated token: the family stays alive
    CredentialService().mark_rejected("rf")
    res2 = run("authsome-helper", "get", "rf")
    assert res2.returncode == 0, res2.stderr
    assert server.revoked_families() == 0 and server.counts["token:refresh_token"] == 2
    assert_no_leak([res.stderr, res2.stderr], home, secrets_seen(server))


@pytest.mark.parametrize("own_endpoint", [True, False], ids=["refresh_url", "token_url"])
def test_refresh_goes_to_refresh_url_else_token_url(home, run, own_endpoint):
    """With `oauth.refresh_url` (Figma) every refresh, the helper's and `authsome get`'s,
    goes there and never to token_url (which here refuses refresh grants); without it,
    refreshes go to token_url as RFC 6749 §6 has it."""
    with AuthServer(quirks={"refresh_elsewhere"} if own_endpoint else set()) as srv:
        connect(home, srv, **({"refresh_url": srv.refresh_url} if own_endpoint else {}))
        got = run("authsome-helper", "get", "rf")
        assert got.returncode == 0, got.stdout + got.stderr
        CredentialService().mark_rejected("rf")  # the next get refreshes first
        again = run("authsome", "get", "rf", "--field", "access_token")
        assert again.returncode == 0, again.stderr
        assert srv.is_active(again.stdout.strip())
        where = "refresh" if own_endpoint else "token"
        sent = [(r["endpoint"], r["grant_type"], r["status"]) for r in srv.requests]
        assert sent == [(where, "refresh_token", 200)] * 2
        assert_no_leak([got.stderr, again.stderr], home, secrets_seen(srv))


def test_invalid_grant_means_log_in_again(home, server, run):
    minted = connect(home, server)
    # the user revoked the app at the provider: the refresh token is dead
    provider = CredentialService().provider("rf")
    revoke(provider, ClientCredentials("rc", SECRET), minted["refresh_token"], "refresh_token")
    res = run("authsome-helper", "get", "rf")
    assert res.returncode == 5
    assert json.loads(res.stdout)["error"]["code"] == "reauth_required"
    assert stored()["status"] == "expired"
    status = run("authsome", "get", "rf", "--field", "status")
    assert status.stdout.strip() == "expired"


def test_network_failure_keeps_a_still_valid_token(home, run):
    with AuthServer() as srv:
        connect(home, srv, expired=False)
    # the server is gone; the token is valid for an hour but min_ttl asks for two
    res = run("authsome-helper", "get", "rf", input=json.dumps({"min_ttl": 7200}))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "warning" in res.stderr


def test_network_failure_is_one_clear_line(home, run):
    with AuthServer() as srv:
        connect(home, srv, expired=True)
    res = run("authsome-helper", "get", "rf")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "cannot reach" in json.loads(res.stdout)["error"]["message"]


@pytest.mark.parametrize(
    "quirks,check",
    [
        ({"form"}, lambda t: t.scopes == ["read"]),
        ({"scope_list"}, lambda t: t.scopes == ["read"]),
        ({"no_expires_in"}, lambda t: t.expires_at is None),
        ({"slack"}, lambda t: t.scopes == ["read"] and t.extra.get("app_id") == "A0TEST"),
    ],
)
def test_refresh_quirks(home, quirks, check):
    with AuthServer(quirks=quirks) as srv:
        minted = connect(home, srv)
        provider = CredentialService().provider("rf")
        tokens = refresh(provider, ClientCredentials("rc", SECRET), minted["refresh_token"])
        assert tokens.access_token and srv.is_active(tokens.access_token)
        assert tokens.refresh_token and tokens.refresh_token != minted["refresh_token"]
        assert check(tokens)


@pytest.mark.parametrize("quirks", [{"error_200"}, {"slack"}, {"form", "error_200"}, set()])
def test_refresh_errors_in_every_shape(home, quirks):
    with AuthServer(quirks=quirks) as srv:
        connect(home, srv)
        provider = CredentialService().provider("rf")
        with pytest.raises(OAuthError) as e:
            refresh(provider, ClientCredentials("rc", SECRET), "not-a-refresh-token")
        assert e.value.error == "invalid_grant"


def test_no_rotation_keeps_the_refresh_token(home):
    with AuthServer(rotate_refresh=False) as srv:
        minted = connect(home, srv)
        provider = CredentialService().provider("rf")
        tokens = refresh(provider, ClientCredentials("rc", SECRET), minted["refresh_token"])
        assert tokens.refresh_token == minted["refresh_token"]


def test_concurrent_gets_refresh_once(home, server, tmp_path):
    """16 processes at the same instant on an expired token; the server rotates refresh
    tokens and burns the family on reuse. One refresh, one new token for all."""
    first = connect(home, server)
    gate = tmp_path / "go"
    # Each child waits at the gate, then becomes `authsome-helper get rf`.
    starter = (
        "import os, sys, time\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.002)\n"
        f"os.execv({tool('authsome-helper')!r}, ['authsome-helper', 'get', 'rf'])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", starter],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(16)
    ]
    time.sleep(1.0)  # let every interpreter reach the gate
    gate.write_text("")
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    codes = [r[2] for r in results]
    assert codes == [0] * 16, [r[1] for r in results]
    tokens = {json.loads(r[0])["access_token"] for r in results}
    assert len(tokens) == 1 and first["access_token"] not in tokens
    assert server.counts["token:refresh_token"] == 1
    assert server.revoked_families() == 0
    assert server.is_active(tokens.pop())
    assert_no_leak([r[1] for r in results], home, secrets_seen(server))


def test_logout_revokes_refresh_then_access(home, server, run):
    minted = connect(home, server, expired=False)
    res = run("authsome", "logout", "rf")
    assert res.returncode == 0 and "Revoked" in res.stderr, res.stderr
    revokes = [r for r in server.requests if r["endpoint"] == "revoke"]
    assert [r["form"].get("token_type_hint") for r in revokes] == ["refresh_token", "access_token"]
    assert all(r["form"]["client_secret"] == SECRET for r in revokes)
    assert not server.is_active(minted["access_token"])
    assert run("authsome-helper", "get", "rf").returncode == 3
    assert_no_leak([res.stdout, res.stderr], home, secrets_seen(server))


def test_logout_no_revoke(home, server, run):
    minted = connect(home, server, expired=False)
    res = run("authsome", "logout", "rf", "--no-revoke")
    assert res.returncode == 0 and server.counts["revoke"] == 0
    assert server.is_active(minted["access_token"])
    assert run("authsome-helper", "get", "rf").returncode == 3


def test_logout_when_revocation_fails(home, server, run):
    connect(home, server, expired=False, revocation_url=f"http://127.0.0.1:{free_port()}/r")
    res = run("authsome", "logout", "rf")
    assert res.returncode == 0, res.stderr
    assert "could not revoke" in res.stderr and "Traceback" not in res.stderr
    assert run("authsome-helper", "get", "rf").returncode == 3


def test_revoke_function(home, server):
    minted = connect(home, server, expired=False)
    provider = CredentialService().provider("rf")
    client = ClientCredentials("rc", SECRET)
    assert revoke(provider, client, minted["access_token"], "access_token") is True
    assert not server.is_active(minted["access_token"])
    write_provider(home, server, "norev", revocation_url=None)
    assert revoke(CredentialService().provider("norev"), client, "x") is False
