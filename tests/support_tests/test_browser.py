"""The browser stand-in returns at once and, detached, follows the authorize redirect."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from support.authserver import AuthServer, pkce_pair
from support.browser import browser_command

OPEN = "import sys, webbrowser; sys.exit(0 if webbrowser.open(sys.argv[1]) else 1)"


class Callback:
    """A loopback redirect target that holds its answer until released."""

    def __init__(self) -> None:
        self.hits: list[dict[str, str]] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                outer.hits.append({k: v[0] for k, v in query.items()})
                outer.arrived.set()
                outer.release.wait(10)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/auth/callback/oauth"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def callback():
    cb = Callback()
    yield cb
    cb.close()


def open_with_webbrowser(url: str) -> float:
    """Open url through Python's webbrowser in a child process; returns seconds taken."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", OPEN, url], env=os.environ.copy(), timeout=20)
    assert done.returncode == 0
    return time.monotonic() - start


def test_browser_follows_authorize_redirect(auth_server: AuthServer, fake_browser, callback):
    auth_server.register_client("pub", redirect_uris=[callback.url])
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": "pub",
        "redirect_uri": callback.url,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = auth_server.authorization_url + "?" + urlencode(query)
    # the callback holds its answer, so returning proves the script detached
    assert open_with_webbrowser(url) < 5
    assert fake_browser.read_text().splitlines()[0] == url
    assert callback.arrived.wait(10)
    callback.release.set()
    hit = callback.hits[0]
    assert hit["state"] == "s1"
    assert auth_server.counts["authorize"] == 1
    form = {
        "grant_type": "authorization_code",
        "code": hit["code"],
        "client_id": "pub",
        "redirect_uri": callback.url,
        "code_verifier": verifier,
    }
    assert httpx.post(auth_server.token_url, data=form).status_code == 200
    lines = fake_browser.read_text().splitlines()
    assert lines[1].startswith(callback.url + "?code=")


def test_browser_ignore_mode_only_logs(auth_server, fake_browser, monkeypatch):
    monkeypatch.setenv("AUTHSOME_TEST_BROWSER_ACTION", "ignore")
    url = auth_server.authorization_url + "?client_id=x"
    open_with_webbrowser(url)
    time.sleep(0.3)
    assert fake_browser.read_text().splitlines() == [url]
    assert auth_server.counts["authorize"] == 0


def test_browser_command_shape():
    cmd = browser_command()
    assert cmd.endswith("browser.py %s") and cmd.startswith(sys.executable)
