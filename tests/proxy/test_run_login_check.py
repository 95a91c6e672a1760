"""`authsome run` checks the selected connections before it starts the child: one that
needs a new login stops the run with exit 5 and the login command, unless --lazy."""

from __future__ import annotations

import json
import time

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials, TokenSet
from oauth.kit import write_provider
from support.authserver import AuthServer


def store_token(run, provider: str, connection: str, **fields) -> None:
    r = run("authsome-helper", "store", provider, "--connection", connection,
            input=json.dumps(fields))  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def child(run, tmp_path, *options: str):
    marker = tmp_path / "child-started"
    res = run("authsome", "run", *options, "--", "touch", str(marker), timeout=120)
    return res, marker.exists()


def test_an_expired_connection_without_refresh_stops_the_run_with_the_login_command(
    home, run, tmp_path
):
    store_token(run, "hubspot", "work", access_token="at-old", expires_in=-30)
    res, started = child(run, tmp_path, "--connection", "hubspot=work")
    assert res.returncode == 5, res.stderr
    assert not started
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "`authsome login hubspot --connection work`" in lines[0]
    assert lines[0].startswith("authsome: ") and lines[0].count("authsome:") == 1
    # --lazy: the child starts anyway (its requests for hubspot would fail)
    res, started = child(run, tmp_path, "--lazy", "--connection", "hubspot=work")
    assert res.returncode == 0, res.stderr
    assert started


def test_a_refresh_the_server_refuses_stops_the_run(home, run, tmp_path):
    """The default selection: status says connected (a refresh token is there), but the
    authorization server refuses it: the run must not start a child whose requests 502."""
    with AuthServer() as srv:
        write_provider(home, srv, "rc")
        srv.register_client("c1", "c1-secret", redirect_uris=["http://127.0.0.1/cb"])
        service = CredentialService()
        service.store_client("rc", ClientCredentials("c1", "c1-secret"))
        expired = int(time.time()) - 10
        service.store_token("rc", "default", TokenSet("at-x", "rt-unknown", expired, ["read"]))
        res, started = child(run, tmp_path)
        assert res.returncode == 5, res.stderr
        assert not started
        assert "`authsome login rc`" in res.stderr and "invalid_grant" in res.stderr


def test_a_valid_or_refreshable_connection_starts_the_child(home, run, tmp_path):
    with AuthServer() as srv:
        write_provider(home, srv, "rc")
        srv.register_client("c1", "c1-secret", redirect_uris=["http://127.0.0.1/cb"])
        service = CredentialService()
        service.store_client("rc", ClientCredentials("c1", "c1-secret"))
        minted = srv.issue_tokens("c1", "read")
        expired = int(time.time()) - 10
        service.store_token(
            "rc", "default", TokenSet("at-x", minted["refresh_token"], expired, ["read"])
        )
        store_token(run, "hubspot", "default", access_token="at-ok", expires_in=3600)
        res, started = child(run, tmp_path)
        assert res.returncode == 0, res.stderr
        assert started
        assert srv.counts["token:refresh_token"] == 1  # refreshed before the child started
