"""A token past expiry is never `connected`: `get --field status` and doctor try its
refresh, and say `expired` when no token can be had (the authorization server is down);
`authsome-helper get` then answers the SPEC's reauth_required (exit 5), not `internal`."""

from __future__ import annotations

import json
import time

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials, TokenSet
from oauth.kit import write_provider
from support.authserver import AuthServer


def connect(home, srv: AuthServer, name: str, refresh_token: str | None = None) -> None:
    """An expired access token with a refresh token, as after a login long ago."""
    write_provider(home, srv, name)
    srv.register_client("c1", "c1-secret", redirect_uris=["http://127.0.0.1/cb"])
    service = CredentialService()
    service.store_client(name, ClientCredentials("c1", "c1-secret"))
    refresh_token = refresh_token or srv.issue_tokens("c1", "read")["refresh_token"]
    expired = int(time.time()) - 120
    service.store_token(name, "default", TokenSet("at-old", refresh_token, expired, ["read"]))


def test_expired_and_server_unreachable_is_expired_everywhere(home, run):
    with AuthServer() as srv:
        connect(home, srv, "down")
    # the server is gone: its port refuses connections
    r = run("authsome", "get", "down", "--field", "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "expired\n"
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    checks = json.loads(run("authsome", "doctor", "--json").stdout)
    mine = next(c for c in checks if c["name"] == "down:default")
    assert mine["level"] == "warn" and mine["message"].startswith("expired, expires 2m ago")
    assert "authsome login down" in mine["fix"]
    r = run("authsome-helper", "get", "down")
    assert r.returncode == 5, r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "reauth_required"
    assert "at-old" not in r.stdout + r.stderr


def test_expired_but_refreshable_is_connected_after_the_refresh(home, run):
    with AuthServer() as srv:
        connect(home, srv, "up")
        r = run("authsome", "get", "up", "--field", "status")
        assert (r.returncode, r.stdout, r.stderr) == (0, "connected\n", "")
        assert srv.counts["token:refresh_token"] == 1


def test_expired_and_refresh_refused_is_expired(home, run):
    with AuthServer() as srv:
        connect(home, srv, "gone", refresh_token="rt-the-server-never-issued")
        r = run("authsome", "get", "gone", "--field", "status")
        assert r.stdout == "expired\n" and "invalid_grant" in r.stderr
        assert run("authsome", "get", "gone", "--field", "status").stdout == "expired\n"


def test_helper_without_arguments_on_a_terminal_prints_its_usage(home):
    import os
    import pty
    import subprocess

    from support.cli import tool

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(
            [tool("authsome-helper")], stdout=terminal, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(terminal)
    os.set_blocking(controller, False)
    try:
        shown = os.read(controller, 4096)
    except OSError:
        shown = b""
    os.close(controller)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("usage: authsome-helper ACTION")
    assert b"{" not in shown  # no JSON error object for a person
