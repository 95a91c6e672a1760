"""`authsome login` / `logout` input handling, Ctrl-C, and the TLS trust of oauth.http."""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from authsome.errors import UsageError
from authsome.oauth.http import check_endpoint, make_client
from oauth.kit import Login, port_free, wait_for, write_provider
from support.pki import make_pki
from support.tls_servers import serve_tls


def test_api_key_login(home, run):
    res = run("authsome", "login", "openai", "--api-key-stdin", input="sk-test-abc123\n")
    assert res.returncode == 0, res.stderr
    assert "sk-test-abc123" not in res.stdout + res.stderr
    got = json.loads(run("authsome-helper", "get", "openai").stdout)
    assert got["api_key"] == "sk-test-abc123"
    # an explicit key on stdin replaces the stored one
    assert run("authsome", "login", "openai", "--api-key-stdin", input="sk-two").returncode == 0
    assert json.loads(run("authsome-helper", "get", "openai").stdout)["api_key"] == "sk-two"
    audit = (home / "audit.log").read_text()
    assert "sk-two" not in audit and "sk-test-abc123" not in audit


@pytest.mark.parametrize(
    "args,stdin,code,words",
    [
        (["openai", "--api-key-stdin"], "not-a-key", 2, "does not look like"),
        (["openai"], "", 2, "--api-key-stdin"),
        (["openai", "--flow", "pkce"], "", 2, "API key"),
        (["hubspot", "--api-key-stdin"], "sk-x", 2, "OAuth2"),
        (["hubspot", "--client-secret-stdin"], "s", 2, "--client-id"),
        (["hubspot", "--client-id", "X", "--no-browser"], "", 2, "client secret"),
        (["hubspot", "--flow", "device_code"], "", 2, "device_code"),
        (["hubspot", "--timeout", "0"], "", 2, "--timeout"),
        (["nosuch"], "", 4, "nosuch"),
        (["hubspot", "--connection", "bad name"], "", 2, "connection"),
    ],
)
def test_bad_input_is_one_line(home, run, args, stdin, code, words):
    res = run("authsome", "login", *args, input=stdin)
    assert res.returncode == code, res.stderr
    assert words in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_template_provider_needs_its_param(home, run):
    res = run("authsome", "login", "shopify", "--client-id", "x", "--no-browser")
    assert res.returncode == 2 and "--set shop=" in res.stderr


def test_ctrl_c_cancels_and_frees_the_port(home, server, port, idle_browser):
    write_provider(home, server, "cc")
    login = Login("cc", "--client-id", "c")
    wait_for(lambda: idle_browser.exists() and idle_browser.read_text(), what="browser")
    login.proc.send_signal(signal.SIGINT)
    assert login.wait() == 130  # as shells report SIGINT; 7 is for timeouts and refusals
    assert "cancelled" in login.err and "Traceback" not in login.err
    assert port_free(port)


def test_logout_unknown_connection(home, run):
    res = run("authsome", "logout", "hubspot")
    assert res.returncode == 3 and "Traceback" not in res.stderr


def test_check_endpoint():
    assert check_endpoint("https://idp.example/token", "token_url")
    for ok in ("http://127.0.0.1:9/t", "http://localhost/t", "http://[::1]:8/t"):
        assert check_endpoint(ok, "token_url") == ok
    for bad in ("http://idp.example/token", "ftp://x/y", "", None, "http://127.0.0.1.evil.io/"):
        with pytest.raises(UsageError):
            check_endpoint(bad, "token_url")


def test_tls_trusts_authsome_ca_bundle(tmp_path, monkeypatch):
    pki = make_pki(tmp_path, ["localhost"])

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Hello)
    serve_tls(httpd, pki["cert"], pki["key"])
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"https://localhost:{httpd.server_address[1]}/"
    try:
        monkeypatch.delenv("AUTHSOME_CA_BUNDLE", raising=False)
        with make_client() as http, pytest.raises(httpx.ConnectError):
            http.get(url)
        monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(pki["ca"]))
        with make_client() as http:
            assert http.get(url).text == "ok"
        monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(tmp_path / "missing.pem"))
        with pytest.raises(UsageError):
            make_client()
    finally:
        httpd.shutdown()
        httpd.server_close()
