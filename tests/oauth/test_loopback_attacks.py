"""Another local user against a browser login in progress (issue #14 item 2).

Any local process can reach the loopback port and send any `Host`. It must learn
nothing useful (no authorize URL, state, PKCE challenge or form token on `/`), cannot
reach the client form without the per-login secret only the opened browser is given,
and cannot end or hijack the login with a callback of its own.
"""

from __future__ import annotations

import httpx

from oauth.kit import Login, redirect, wait_for, write_provider


def _opened(browser) -> str:
    return wait_for(
        lambda: browser.exists() and browser.read_text().strip(), what="browser"
    ).splitlines()[0]


def test_root_serves_nothing_useful_during_a_login(home, server, port, idle_browser):
    write_provider(home, server, "rt")
    login = Login("rt", "--client-id", "c")
    try:
        authorize_url = _opened(idle_browser)
        state = httpx.URL(authorize_url).params["state"]
        r = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)  # follows nothing
        assert r.status_code == 404
        assert "location" not in r.headers
        assert state not in r.text and "code_challenge" not in r.text
        assert "Rt" not in r.text and "default" not in r.text  # not even whose login it is
    finally:
        login.kill()


def test_client_form_only_at_its_secret_path(home, server, port, idle_browser):
    write_provider(home, server, "cf", pkce=False)
    login = Login("cf")
    try:
        form_url = _opened(idle_browser)
        secret = form_url.rsplit("/", 1)[1]
        assert len(secret) >= 32
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=5) as http:
            for path in ("/", "/client/", "/client/" + "x" * len(secret), "/client"):
                got = http.get(base + path)
                assert got.status_code == 404 and "form_token" not in got.text
                posted = http.post(base + path, data={"client_id": "evil", "form_token": "x"})
                assert posted.status_code == 404
            page = http.get(form_url)
            assert page.status_code == 200 and 'name="form_token"' in page.text
    finally:
        login.kill()


def test_requests_naming_another_host_are_refused(home, server, port, idle_browser):
    """DNS rebinding: a page at evil.example resolving to 127.0.0.1 sends Host: evil..."""
    write_provider(home, server, "rb", pkce=False)
    login = Login("rb")
    try:
        form_url = _opened(idle_browser)
        for host in (f"evil.example:{port}", "evil.example", f"localhost:{port}", "127.0.0.1"):
            r = httpx.get(form_url, headers={"Host": host}, timeout=5)
            assert r.status_code == 421 and "form_token" not in r.text, host
            cb = httpx.get(f"{redirect(port)}?code=x&state=y", headers={"Host": host}, timeout=5)
            assert cb.status_code == 421, host
        assert login.proc.poll() is None
    finally:
        login.kill()
