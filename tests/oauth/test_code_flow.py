"""The `pkce` flow end to end: `authsome login` as a process, the browser stand-in, and the
authlib-based test server on loopback. Nothing here is mocked."""

from __future__ import annotations

import html
import json
import re
import socket
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials
from oauth.kit import (
    Login,
    assert_no_leak,
    port_free,
    redirect,
    secrets_seen,
    wait_for,
    write_provider,
)

SECRET = "conf-secret-Zq81xYv"


def helper_get(run, name):
    res = run("authsome-helper", "get", name)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), res


def token_requests(srv, grant="authorization_code"):
    return [r for r in srv.requests if r["endpoint"] == "token" and r["grant_type"] == grant]


def test_pkce_login_through_browser(home, server, port, browser, run):
    write_provider(home, server, "pk", pkce=True)
    server.register_client("cli", redirect_uris=[redirect(port)], scope="read write")
    login = Login("pk", "--client-id", "cli")
    assert login.wait() == 0, login.err
    assert "Logged in to Pk (default)" in login.err
    req = token_requests(server)[-1]
    assert req["status"] == 200 and req["auth_method"] == "none"
    assert req["form"]["code_verifier"] and "client_secret" not in req["form"]
    authorize_url = browser.read_text().splitlines()[0]
    q = parse_qs(urlsplit(authorize_url).query)
    assert q["code_challenge_method"] == ["S256"] and q["redirect_uri"] == [redirect(port)]
    cred, res = helper_get(run, "pk")
    assert server.is_active(cred["access_token"]) and cred["scopes"] == ["read", "write"]
    # the client given on the command line is stored and reused
    assert CredentialService().client("pk").client_id == "cli"
    assert port_free(port)
    assert_no_leak([login.out, login.err, res.stderr], home, secrets_seen(server))


def test_confidential_login_hubspot_like(home, server, port, browser, run):
    """pkce=false: the exchange sends client_secret and no code_verifier."""
    write_provider(home, server, "hs", pkce=False)
    server.register_client("hs-app", SECRET, redirect_uris=[redirect(port)], scope="read write")
    login = Login("hs", "--client-id", "hs-app", "--client-secret-stdin", stdin=SECRET + "\n")
    assert login.wait() == 0, login.err
    req = token_requests(server)[-1]
    assert req["status"] == 200 and req["form"]["client_secret"] == SECRET
    assert "code_verifier" not in req["form"]
    assert "code_challenge" not in browser.read_text()
    cred, res = helper_get(run, "hs")
    assert server.is_active(cred["access_token"])
    stored = CredentialService().client("hs")
    assert (stored.client_id, stored.client_secret) == ("hs-app", SECRET)
    assert_no_leak(
        [login.out, login.err, res.stdout.replace(cred["access_token"], "")],
        home,
        secrets_seen(server),
    )


def test_client_auth_basic(home, server, port, browser):
    write_provider(home, server, "hb", pkce=False, client_auth="basic")
    server.register_client(
        "hb-app",
        SECRET,
        redirect_uris=[redirect(port)],
        token_endpoint_auth_method="client_secret_basic",
    )
    login = Login("hb", "--client-id", "hb-app", "--client-secret-stdin", stdin=SECRET)
    assert login.wait() == 0, login.err
    req = token_requests(server)[-1]
    assert req["auth_method"] == "basic" and "client_secret" not in req["form"]


def test_scopes_override_and_authorization_params(home, server, port, browser, run):
    write_provider(home, server, "sc", authorization_params={"prompt": "consent"})
    server.register_client("c", redirect_uris=[redirect(port)], scope="read write admin")
    login = Login("sc", "--client-id", "c", "--scopes", "read")
    assert login.wait() == 0, login.err
    q = parse_qs(urlsplit(browser.read_text().splitlines()[0]).query)
    assert q["scope"] == ["read"] and q["prompt"] == ["consent"]
    cred, _ = helper_get(run, "sc")
    assert cred["scopes"] == ["read"]


def test_denied_at_provider(home, server, port, browser):
    write_provider(home, server, "dn")
    server.register_client("c", redirect_uris=[redirect(port)])
    server.deny_next_authorization = True
    login = Login("dn", "--client-id", "c")
    assert login.wait() == 7
    assert "access_denied" in login.err and "Traceback" not in login.err
    assert port_free(port)
    assert CredentialService().client("dn") is None  # a client that did not work is not kept


def test_timeout_releases_port(home, server, port, idle_browser):
    write_provider(home, server, "to")
    login = Login("to", "--client-id", "c", "--timeout", "1.5")
    assert login.wait() == 7
    assert "timed out after 1.5 s" in login.err and "Ctrl-C" in login.err
    assert port_free(port)


def test_wrong_or_missing_state_is_ignored_and_the_login_goes_on(home, server, port, idle_browser):
    """A forged or stale redirect can neither finish nor cancel the login (#14 item 2)."""
    write_provider(home, server, "ws")
    server.register_client("c", redirect_uris=[redirect(port)])
    login = Login("ws", "--client-id", "c")
    authorize_url = wait_for(
        lambda: idle_browser.exists() and idle_browser.read_text().strip(), what="browser"
    ).splitlines()[0]
    for query in ("code=forged-code-123&state=not-the-state", "code=forged-code-123", "state="):
        r = httpx.get(f"{redirect(port)}?{query}", timeout=5)
        assert r.status_code == 400 and "ignored" in r.text
    assert login.proc.poll() is None  # still waiting
    # the real browser comes back: the login completes
    with httpx.Client(timeout=30, follow_redirects=True) as http:
        page = http.get(authorize_url)
    assert page.status_code == 200 and "Signed in to Ws" in page.text
    assert login.wait() == 0, login.err
    assert login.err.count("ignored a sign-in answer") == 1  # said once on the terminal
    assert "forged-code-123" not in login.err
    assert [r["form"]["code"] for r in token_requests(server)] != ["forged-code-123"]
    assert len(token_requests(server)) == 1


def test_browser_page_shows_the_failed_exchange(home, server, port, idle_browser):
    """#15 item 5: a wrong client secret is not "Signed in": the browser waits on the
    exchange and shows the provider's error; the terminal says the same, exit 1."""
    write_provider(home, server, "wx", pkce=False)
    server.register_client("wx-app", SECRET, redirect_uris=[redirect(port)])
    login = Login("wx", "--client-id", "wx-app", "--client-secret-stdin", stdin="not-the-secret")
    authorize_url = wait_for(
        lambda: idle_browser.exists() and idle_browser.read_text().strip(), what="browser"
    ).splitlines()[0]
    with httpx.Client(timeout=30, follow_redirects=True) as http:
        page = http.get(authorize_url)
    assert login.wait() == 1
    assert page.status_code == 502 and "Signed in" not in page.text
    assert "invalid_client" in page.text and "invalid_client" in login.err
    assert "not-the-secret" not in page.text + login.err


def test_browser_page_waits_for_the_vault_write(home, server, port, idle_browser, run):
    """The page says "Signed in" only once the token is in the vault: a vault that opened
    before the flow (test_login_vault_first.py) but will not take the write (here a
    directory in the way of the record, as a full disk or a read-only mount would refuse
    it) shows the failure in the browser, login exits 6 (vault unavailable), nothing is
    stored."""
    write_provider(home, server, "vw", pkce=True)
    server.register_client("vw-app", redirect_uris=[redirect(port)])
    seeded = json.dumps({"access_token": "vw-other-token-1", "expires_in": 3600})
    assert run("authsome-helper", "store", "hubspot", input=seeded).returncode == 0
    CredentialService().store_client("vw", ClientCredentials("vw-app"))  # reused: not written
    records = {p: p.read_bytes() for p in (home / "vault").rglob("*.rec")}
    login = Login("vw")
    authorize_url = wait_for(
        lambda: idle_browser.exists() and idle_browser.read_text().strip(), what="browser"
    ).splitlines()[0]
    in_the_way = home / "vault" / "connections" / "vw%3Adefault.rec"  # the token's record
    (in_the_way / "x").mkdir(mode=0o700, parents=True)
    with httpx.Client(timeout=30, follow_redirects=True) as http:
        page = http.get(authorize_url)
    assert login.wait() == 6, login.err
    assert token_requests(server)[-1]["status"] == 200  # the exchange itself went through
    # The page says what failed: not the provider (that is a 502), the local store.
    assert page.status_code == 500 and "Signed in" not in page.text
    reason = f"cannot write {in_the_way}: Is a directory"
    assert login.err.strip().splitlines()[-1] == f"authsome: {reason}"
    said = html.unescape(re.sub(r"<[^>]+>", " ", page.text))
    assert "Token not stored" in said
    assert f"The sign-in at Vw worked, but authsome could not store the token: {reason}" in said
    assert "Logged in" not in login.err and "Traceback" not in login.err
    (in_the_way / "x").rmdir()
    in_the_way.rmdir()
    assert {p: p.read_bytes() for p in (home / "vault").rglob("*.rec")} == records
    assert run("authsome-helper", "get", "vw").returncode == 3
    assert_no_leak([login.out, login.err, page.text], home, secrets_seen(server))


def test_second_callback_is_refused(home, server, port, idle_browser):
    from authsome.oauth.authorize import CALLBACK_PATH
    from authsome.oauth.loopback import LoopbackServer

    with LoopbackServer(port, "st", "X") as srv:
        srv.report(True, "exchanged")  # the exchange's outcome, known at once here
        url = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
        assert httpx.get(url, params={"code": "c1", "state": "st"}).status_code == 200
        second = httpx.get(url, params={"code": "c2", "state": "st"})
        assert second.status_code == 400 and "already" in second.text
        assert srv.result.code == "c1"
        evil = httpx.get(url, params={"code": "c", "state": "st"}, headers={"Host": "evil.test"})
        assert evil.status_code == 421
    assert port_free(port)


def test_busy_port(home, server, port, idle_browser):
    write_provider(home, server, "bp")
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        login = Login("bp", "--client-id", "c")
        assert login.wait() == 1
    assert f"127.0.0.1:{port}" in login.err and "busy" in login.err
    assert "AUTHSOME_CALLBACK_PORT" in login.err


def test_client_form_filled_like_a_browser(home, server, port, idle_browser, run):
    """No stored client, no --client-id: the local form collects it, then signs in."""
    write_provider(home, server, "fm", pkce=False)
    server.register_client("form-app", SECRET, redirect_uris=[redirect(port)])
    login = Login("fm")
    form_url = wait_for(
        lambda: idle_browser.exists() and idle_browser.read_text().strip(), what="browser"
    ).splitlines()[0]
    assert form_url.startswith(f"http://127.0.0.1:{port}/client/")
    with httpx.Client(timeout=10) as http:
        page = http.get(form_url)
        assert page.status_code == 200 and redirect(port) in page.text
        token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
        fields = {"client_id": "form-app", "client_secret": SECRET}
        # another page cannot post: no token, or a foreign Origin, or a foreign Host
        assert http.post(form_url, data=fields).status_code == 403
        foreign = {"Origin": "https://evil.example"}
        assert (
            http.post(form_url, data={**fields, "form_token": token}, headers=foreign).status_code
            == 403
        )
        assert (
            http.post(
                form_url, data={**fields, "form_token": token}, headers={"Host": "evil.example"}
            ).status_code
            == 403
        )
        # the real submission, from our own page
        r = http.post(
            form_url,
            data={**fields, "form_token": token},
            headers={"Origin": f"http://127.0.0.1:{port}"},
            follow_redirects=True,
        )
        assert r.status_code == 200 and "Signed in" in r.text
    assert login.wait() == 0, login.err
    assert CredentialService().client("fm").client_secret == SECRET
    cred, _ = helper_get(run, "fm")
    assert server.is_active(cred["access_token"])
    assert_no_leak([login.out, login.err], home, secrets_seen(server))
    # later logins reuse the stored client: no form
    again = Login("fm", "--force", "--no-browser", "--timeout", "1")
    assert again.wait() == 7
    assert "client_id=form-app" in again.out and "code_challenge" not in again.out


def test_already_connected_is_kept_without_force(home, server, port, browser):
    write_provider(home, server, "ac")
    server.register_client("c", redirect_uris=[redirect(port)])
    assert Login("ac", "--client-id", "c").wait() == 0
    second = Login("ac")
    assert second.wait() == 0 and "already connected" in second.err
    assert len(token_requests(server)) == 1


def test_hubspot_authorize_url_on_default_port(home, monkeypatch):
    """The bundled HubSpot definition, default port 7998; the login is killed after the URL."""
    monkeypatch.delenv("AUTHSOME_CALLBACK_PORT", raising=False)
    if not port_free(7998):
        pytest.skip("port 7998 is in use on this machine")
    login = Login(
        "hubspot",
        "--no-browser",
        "--client-id",
        "X",
        "--client-secret-stdin",
        stdin="hs-secret-value\n",
    )
    try:
        line = login.proc.stdout.readline().strip()
    finally:
        login.kill()
    url = urlsplit(line)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://app.hubspot.com/oauth/authorize"
    q = parse_qs(url.query)
    assert q["client_id"] == ["X"] and q["response_type"] == ["code"]
    assert q["redirect_uri"] == ["http://127.0.0.1:7998/auth/callback/oauth"]
    assert q["scope"][0].split(" ") == [
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.owners.read",
    ]
    assert len(q["state"][0]) >= 32 and "code_challenge" not in q
    assert "hs-secret-value" not in line + login.out + login.err
