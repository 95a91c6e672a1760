"""`authsome login --mcp URL` against an MCP server built with the official SDK, then an
SDK client with no auth of its own calling a tool under `authsome run`."""

from __future__ import annotations

import base64
import json
import os
import stat
from urllib.parse import parse_qs, urlsplit

from remote_mcp.conftest import call
from support.mcp_server import MCP_HOST, SCOPE

NAME = MCP_HOST  # the default name: the server's host


def token_forms(auth, grant):
    return [
        r["form"] for r in auth.requests if r["endpoint"] == "token" and r["grant_type"] == grant
    ]


def authorize_params(browser_log) -> dict[str, str]:
    first = browser_log.read_text().splitlines()[0]
    return {k: v[0] for k, v in parse_qs(urlsplit(first).query).items()}


def test_login_by_url_alone_then_an_agent_calls_a_tool(home, auth, mcp, reach, run, tmp_path):
    res = run("authsome", "login", "--mcp", mcp.url)
    assert res.returncode == 0, res.stderr
    assert f"provider {NAME}" in res.stderr and SCOPE in res.stderr
    # dynamic registration, PKCE S256 and the resource on both requests
    assert auth.counts["register"] == 1
    params = authorize_params(tmp_path / "browser.log")
    assert params["resource"] == mcp.url and params["code_challenge_method"] == "S256"
    assert params["scope"] == SCOPE  # from the server's scopes_supported
    assert token_forms(auth, "authorization_code")[0]["resource"] == mcp.url
    # the definition: written 0600, covering the server's host and path
    path = home / "providers" / f"{NAME}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    definition = json.loads(path.read_text())
    assert definition["api_url"] == [f"{MCP_HOST}:{mcp.port}/mcp"]
    assert definition["oauth"]["resource"] == mcp.url
    assert definition["mcp"]["url"] == mcp.url
    shown = json.loads(run("authsome", "inspect", NAME).stdout)
    assert shown["oauth"]["resource"] == mcp.url

    status, out, err = call(mcp)
    assert status == 0, err
    assert "result: echo: hi" in out
    assert mcp.audiences and set(mcp.audiences) == {mcp.url}  # the server saw its own audience


def login_and_call(run, mcp, *args, stdin=None):
    res = run("authsome", "login", "--mcp", mcp.url, *args, input=stdin)
    assert res.returncode == 0, res.stderr
    status, out, err = call(mcp)
    assert status == 0, err
    assert "result: echo: hi" in out
    assert set(mcp.audiences) == {mcp.url}
    return res


def test_pre_registered_client_with_secret(home, auth, mcp, reach, run):
    port = int(__import__("os").environ["AUTHSOME_CALLBACK_PORT"])
    auth.register_client(
        "mine",
        "s3cret-value-1",
        redirect_uris=[f"http://127.0.0.1:{port}/auth/callback/oauth"],
        scope=SCOPE,
    )
    login_and_call(run, mcp, "--client-id", "mine", "--client-secret-stdin", stdin="s3cret-value-1")
    assert auth.counts["register"] == 0
    assert token_forms(auth, "authorization_code")[0]["client_id"] == "mine"
    definition = json.loads((home / "providers" / f"{NAME}.json").read_text())
    assert definition["flow"] == "pkce"
    assert "s3cret-value-1" not in json.dumps(definition)
    # a second login reuses the stored client without --client-id
    res = run("authsome", "login", "--mcp", mcp.url, "--force")
    assert res.returncode == 0, res.stderr
    assert auth.counts["register"] == 0
    assert token_forms(auth, "authorization_code")[1]["client_id"] == "mine"


def test_metadata_only_at_the_well_known_uri(home, auth, mcp, reach, run):
    mcp.challenges.drop_resource_metadata = True
    login_and_call(run, mcp)
    definition = json.loads((home / "providers" / f"{NAME}.json").read_text())
    well_known = f"https://{MCP_HOST}:{mcp.port}/.well-known/oauth-protected-resource/mcp"
    assert definition["mcp"]["resource_metadata"] == well_known


def test_authorization_server_found_through_openid_connect_discovery(home, auth, mcp, reach, run):
    auth.metadata_at = {"oidc"}
    login_and_call(run, mcp)
    definition = json.loads((home / "providers" / f"{NAME}.json").read_text())
    assert definition["oauth"]["metadata_url"] == auth.issuer + "/.well-known/openid-configuration"


def assert_refused(res, home, run, *words):
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    for word in words:
        assert word in lines[0]
    assert not (home / "providers").exists() or not list((home / "providers").iterdir())
    listed = json.loads(run("authsome", "list", "--json").stdout)
    assert NAME not in json.dumps(listed)


def test_resource_that_is_not_the_url_is_refused(home, auth, pki, reach, run):
    from support.mcp_server import McpTestServer

    with McpTestServer(auth, pki, resource_path="/elsewhere") as other:
        res = run("authsome", "login", "--mcp", other.url)
    assert_refused(res, home, run, "refused", "/elsewhere", other.url)
    assert auth.counts["register"] == 0


def test_issuer_mismatch_is_refused(home, auth, mcp, reach, run):
    auth.metadata_overrides = {"issuer": "https://login.example.test"}
    res = run("authsome", "login", "--mcp", mcp.url)
    assert_refused(res, home, run, "refused", "https://login.example.test", auth.issuer)
    assert auth.counts["register"] == 0


def test_server_without_s256_is_refused(home, auth, mcp, reach, run):
    auth.metadata_overrides = {"code_challenge_methods_supported": ["plain"]}
    res = run("authsome", "login", "--mcp", mcp.url)
    assert_refused(res, home, run, "refused", "S256")
    assert auth.counts["register"] == 0


def test_a_vault_that_does_not_open_stops_before_discovery(
    home, auth, mcp, reach, run, tmp_path, monkeypatch
):
    """A key that does not open the vault: exit 6 before anything reaches the server (no
    client registered at it, no definition written, no browser opened)."""
    seeded = '{"access_token": "mcp-other-token-1", "expires_in": 3600}'
    assert run("authsome-helper", "store", "hubspot", input=seeded).returncode == 0
    monkeypatch.setenv("AUTHSOME_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    res = run("authsome", "login", "--mcp", mcp.url)
    assert res.returncode == 6, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not open this vault" in lines[0], res.stderr
    assert auth.counts["register"] == 0 and auth.requests == []
    assert not (home / "providers" / f"{NAME}.json").exists()
    assert not (tmp_path / "browser.log").exists()


def test_refresh_carries_the_resource(home, auth, mcp, reach, run):
    login_and_call(run, mcp)
    auth.expire_access_tokens()  # the server now refuses the token the vault holds
    res = run("authsome-helper", "refresh", NAME)
    assert res.returncode == 0, res.stderr
    forms = token_forms(auth, "refresh_token")
    assert len(forms) == 1 and forms[0]["resource"] == mcp.url
    mcp.audiences.clear()
    status, out, err = call(mcp)
    assert status == 0 and "result: echo: hi" in out, err
    assert set(mcp.audiences) == {mcp.url}


def mcp_checks(run) -> list[dict]:
    res = run("authsome", "doctor", "--json")
    return [c for c in json.loads(res.stdout) if c["name"].startswith("mcp ")]


def test_doctor_checks_the_metadata_still_resolves(home, auth, mcp, reach, run):
    res = run("authsome", "login", "--mcp", mcp.url)
    assert res.returncode == 0, res.stderr
    (check,) = mcp_checks(run)
    assert check["level"] == "ok" and auth.issuer in check["message"]
    auth.metadata_at = set()  # the authorization server's metadata is gone
    (check,) = mcp_checks(run)
    assert check["level"] == "fail" and "publishes no metadata" in check["message"]
    assert f"authsome login {NAME}" in check["fix"]


def test_server_without_resource_metadata_falls_back_to_its_origin(home, auth, reach, run):
    # The 2025-03-26 shape: no RFC 9728 document; the origin is the authorization server
    # (the test authorization server's own API, whose 401 names no resource_metadata).
    url = auth.api_url
    res = run("authsome", "login", "--mcp", url, "--name", "legacy")
    assert res.returncode == 0, res.stderr
    definition = json.loads((home / "providers" / "legacy.json").read_text())
    assert definition["mcp"]["issuer"] == auth.issuer
    assert definition["oauth"]["resource"] == url
    got = json.loads(run("authsome-helper", "get", "legacy").stdout)
    assert auth.token_info(got["access_token"])["aud"] == url
