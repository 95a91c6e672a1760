"""The login pages in a real browser: headless Chromium (issue #14).

`authsome login` runs as a process with BROWSER set to the stand-in that only records
the URL (`idle_browser`); the test opens that URL in Chromium, which then does what a
person does: fills the client form, follows the redirect to the test authorization
server (authlib, on loopback) and lands back on the loopback callback. Every request
Chromium makes is recorded; anything not on loopback is aborted and fails the test.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest

from oauth.kit import Login, redirect, wait_for, write_provider
from support.chromium import chromium

SECRET = "chromium-secret-8Hq2"
NAV_TIMEOUT = 60_000  # ms: a loaded two-core machine


def _opened(browser_log) -> str:
    return wait_for(
        lambda: browser_log.exists() and browser_log.read_text().strip(),
        timeout=30,
        what="the URL handed to BROWSER",
    ).splitlines()[0]


def _callback(port: int) -> re.Pattern[str]:
    return re.compile(re.escape(redirect(port)) + r"\?")


def _names_its_login(page, provider: str, connection: str) -> None:
    who = page.locator(".who").inner_text()
    assert provider in who and f"connection {connection}" in who, who


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_form_then_sign_in_lands_on_the_success_page(
    home, server, port, idle_browser, tmp_path, javascript
):
    write_provider(home, server, "crm", pkce=False)
    server.register_client("crm-app", SECRET, redirect_uris=[redirect(port)], scope="read write")
    with chromium(tmp_path / "profile", javascript=javascript) as (context, traffic):
        login = Login("crm", "--connection", "work", "--timeout", "120")
        try:
            page = context.new_page()
            page.set_default_timeout(NAV_TIMEOUT)
            form = page.goto(_opened(idle_browser))
            assert form.status == 200
            policy = form.headers["content-security-policy"]
            assert "default-src 'none'" in policy
            assert "form-action 'self' http://127.0.0.1:" in policy  # + the authorize origin
            assert page.title() == "authsome: Connect Crm"
            _names_its_login(page, "Crm", "work")
            page.fill("input[name=client_id]", "crm-app")
            page.fill("input[name=client_secret]", SECRET)
            page.click("button[type=submit]")
            page.wait_for_url(_callback(port))
            assert page.locator("h1").inner_text() == "Signed in to Crm"
            _names_its_login(page, "Crm", "work")
            assert login.wait(60) == 0, login.err
        finally:
            login.kill()
    assert "Logged in to Crm (work)" in login.err
    assert traffic.outside == []
    assert any(u.startswith(server.authorization_url) for u in traffic.requests)
    assert SECRET not in login.out + login.err


def test_access_denied_shows_the_error_page_and_login_exits_7(
    home, server, port, idle_browser, tmp_path
):
    write_provider(home, server, "dny")
    server.register_client("c", redirect_uris=[redirect(port)])
    server.deny_next_authorization = True
    with chromium(tmp_path / "profile") as (context, traffic):
        login = Login("dny", "--client-id", "c", "--timeout", "120")
        try:
            page = context.new_page()
            page.set_default_timeout(NAV_TIMEOUT)
            page.goto(_opened(idle_browser))  # the provider's authorize URL: it redirects back
            page.wait_for_url(_callback(port))
            assert page.locator("h1").inner_text() == "Sign-in failed"
            assert "access_denied" in page.locator("p.error").inner_text()
            _names_its_login(page, "Dny", "default")
            assert login.wait(60) == 7
        finally:
            login.kill()
    assert "access_denied" in login.err
    assert traffic.outside == []


def test_the_form_page_can_load_nothing(home, server, port, idle_browser, tmp_path):
    """Chromium itself enforces the page's policy: an image, a stylesheet, a script and a
    fetch added to the page are blocked before any connection is made."""
    write_provider(home, server, "csp", pkce=False)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    target = f"http://127.0.0.1:{listener.getsockname()[1]}/x"
    try:
        with chromium(tmp_path / "profile") as (context, traffic):
            login = Login("csp", "--timeout", "120")
            try:
                page = context.new_page()
                page.set_default_timeout(NAV_TIMEOUT)
                page.goto(_opened(idle_browser))
                blocked = page.evaluate(
                    """(url) => new Promise((resolve) => {
                        const seen = [];
                        document.addEventListener("securitypolicyviolation",
                            (e) => seen.push(e.effectiveDirective));
                        const img = document.createElement("img"); img.src = url + "i";
                        const css = document.createElement("link");
                        css.rel = "stylesheet"; css.href = url + "c";
                        const js = document.createElement("script"); js.src = url + "s";
                        document.body.append(img, css, js);
                        fetch(url + "f").catch(() => {});
                        setTimeout(() => resolve(seen.sort()), 1500);
                    })""",
                    target,
                )
            finally:
                login.kill()
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert blocked == ["connect-src", "img-src", "script-src-elem", "style-src-elem"]
    assert accepted == []
    assert traffic.outside == []
