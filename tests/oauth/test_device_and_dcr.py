"""Device code (RFC 8628) and dynamic registration (RFC 7591 + RFC 8414), end to end."""

from __future__ import annotations

import json

from authsome.credentials import CredentialService
from oauth.kit import Login, assert_no_leak, redirect, secrets_seen, wait_for, write_provider


def device_polls(srv):
    return [
        r
        for r in srv.requests
        if r["endpoint"] == "token" and r["grant_type"] and r["grant_type"].endswith("device_code")
    ]


def test_device_flow_with_slow_down(home, server, run):
    write_provider(home, server, "dv", flow="device_code")
    server.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    server.set_slow_down(1)
    login = Login("dv", "--client-id", "dev", "--no-browser", "--timeout", "60")
    code = server.pending_user_code(timeout=10)
    wait_for(lambda: len(device_polls(server)) >= 1, timeout=20, what="the slow_down poll")
    server.approve_device(code)
    assert login.wait() == 0, login.err
    assert code in login.err and server.device_verification_url in login.out
    polls = device_polls(server)
    assert polls[0]["error"] == "slow_down"
    # after slow_down the interval grows by 5 s (server interval 1 s -> 6 s)
    assert polls[1]["time"] - polls[0]["time"] >= 5.5
    assert polls[-1]["status"] == 200
    res = run("authsome-helper", "get", "dv")
    assert res.returncode == 0, res.stderr
    assert server.is_active(json.loads(res.stdout)["access_token"])
    assert_no_leak([login.out, login.err], home, secrets_seen(server))


def test_device_flow_denied(home, server):
    write_provider(home, server, "dd", flow="device_code")
    server.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    login = Login("dd", "--client-id", "dev", "--no-browser")
    server.deny_device(timeout=10)
    assert login.wait() == 7
    assert "denied" in login.err and "Traceback" not in login.err


def test_device_code_expires(home, server):
    write_provider(home, server, "de", flow="device_code")
    server.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    login = Login("de", "--client-id", "dev", "--no-browser")
    server.pending_user_code(timeout=10)
    server.expire_device()
    assert login.wait() == 7
    assert "expired" in login.err


def test_device_flow_opens_complete_uri_in_browser(home, server, browser):
    write_provider(home, server, "db", flow="pkce")  # --flow picks the device flow
    server.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    server.device_auto_approve = True  # the page approves when the browser visits it
    login = Login("db", "--client-id", "dev", "--flow", "device_code")
    assert login.wait() == 0, login.err
    visited = browser.read_text()
    assert server.device_verification_url in visited


def discovery_only(home, server, name):
    write_provider(
        home,
        server,
        name,
        flow="dcr_pkce",
        supports_dcr=True,
        authorization_url=None,
        token_url=None,
        revocation_url=None,
        device_authorization_url=None,
        metadata_url=server.metadata_url,
    )


def test_dcr_discovers_registers_and_reuses(home, server, port, browser, run):
    discovery_only(home, server, "mcp")
    login = Login("mcp")
    assert login.wait() == 0, login.err
    assert server.counts["register"] == 1
    reg = next(r for r in server.requests if r["endpoint"] == "register")
    assert reg["json"]["redirect_uris"] == [redirect(port)]
    assert reg["json"]["token_endpoint_auth_method"] == "none"
    code_req = [r for r in server.requests if r["grant_type"] == "authorization_code"][-1]
    assert code_req["status"] == 200 and code_req["form"]["code_verifier"]
    client = CredentialService().client("mcp")
    assert client.registration["authsome_endpoints"]["token_url"] == server.token_url
    # refresh and revocation find the discovered endpoints through the stored client
    res = run("authsome-helper", "refresh", "mcp")
    assert res.returncode == 0, res.stderr
    assert server.counts["token:refresh_token"] == 1
    again = Login("mcp", "--force")
    assert again.wait() == 0, again.err
    assert server.counts["register"] == 1  # the stored client is reused


def test_dcr_logout_revokes_at_discovered_endpoint(home, server, port, browser, run):
    discovery_only(home, server, "mcp")
    assert Login("mcp").wait() == 0
    out = run("authsome", "logout", "mcp")
    assert out.returncode == 0 and server.counts["revoke"] == 2, out.stderr


def test_dcr_with_registration_url_only(home, server, port, browser):
    write_provider(
        home,
        server,
        "dcr2",
        flow="dcr_pkce",
        supports_dcr=True,
        registration_url=server.registration_url,
    )
    login = Login("dcr2")
    assert login.wait() == 0, login.err
    assert server.counts["register"] == 1
