"""Text from outside reaches the terminal with its control characters made visible
(#19 item 12): a device flow's user_code and verification_uri, a token response's
scope (printed by `login` and `get`), audit rows in `log`, file names in `list`'s
warnings. And the device flow's verification page must be https (http on loopback)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authsome.terminal import visible
from oauth.kit import Login, write_provider
from support.authserver import AuthServer

# OSC 52 writes the clipboard, OSC 0 retitles the window, CSI 2J clears the screen;
# U+009B is the one-character CSI of C1.
HOSTILE = "\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f"


def raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


def test_visible_escapes_c0_c1_esc_and_del_and_keeps_the_rest():
    assert visible("ABCD-1234 é ✓") == "ABCD-1234 é ✓"
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("x\x9by\x85z\x7f") == "x\\x9by\\x85z\\x7f"
    assert visible("one\ntwo\r\tthree\x00") == "one\\ntwo\\r\\tthree\\x00"
    assert raw_controls(visible(HOSTILE)) == []


class HostileServer(AuthServer):
    """The test server, bending the device authorization and token answers."""

    device_extra: dict[str, Any] = {}
    scope_suffix = ""

    def handle(self, method: str, path: str, req: Any) -> tuple[int, bytes, str, list]:
        status, body, ctype, headers = super().handle(method, path, req)
        if status == 200 and path == "/device_authorization":
            data = json.loads(body)
            data["user_code"] = data["user_code"] + HOSTILE
            data.update(self.device_extra)
            body = json.dumps(data).encode()
        if status == 200 and path == "/token" and self.scope_suffix:
            data = json.loads(body)
            data["scope"] = data.get("scope", "read") + self.scope_suffix
            body = json.dumps(data).encode()
        return status, body, ctype, headers


@pytest.fixture
def hostile():
    with HostileServer() as srv:
        yield srv


def test_device_code_and_scope_are_shown_not_obeyed(home, hostile, run):
    write_provider(home, hostile, "dh", flow="device_code")
    hostile.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    hostile.scope_suffix = HOSTILE
    hostile.device_extra = {"verification_uri": hostile.device_verification_url + "?" + HOSTILE}
    login = Login("dh", "--client-id", "dev", "--no-browser", "--timeout", "60")
    hostile.approve_device(hostile.pending_user_code(timeout=10))
    assert login.wait() == 0, login.err
    assert raw_controls(login.out + login.err) == []
    assert "\\x1b]52;c;" in login.err  # shown, escaped: the code and the scope
    assert login.err.count("\\x1b]0;pwned") >= 2
    for args in ([], ["--field", "scopes"]):
        res = run("authsome", "get", "dh", *args)
        assert res.returncode == 0, res.stderr
        assert raw_controls(res.stdout) == [] and "\\x1b]52" in res.stdout
    res = run("authsome", "get", "dh", "--json")
    assert raw_controls(res.stdout) == [] and json.loads(res.stdout)["scopes"]


@pytest.mark.parametrize(
    "uri", ["http://evil.test/device", "javascript:alert(1)", "file:///etc/passwd"]
)
def test_device_verification_uri_must_be_https(home, hostile, uri):
    write_provider(home, hostile, "du", flow="device_code")
    hostile.register_client("dev", redirect_uris=["http://127.0.0.1/unused"])
    hostile.device_extra = {"verification_uri": uri}
    login = Login("du", "--client-id", "dev", "--no-browser", "--timeout", "20")
    assert login.wait() != 0
    assert "verification_uri is not https://" in login.err
    assert uri not in login.out + login.err


def test_log_shows_hostile_audit_rows_escaped(home, run):
    line = {"time": "2026-01-01T00:00:00Z", "event": "read" + HOSTILE, "provider": "x" + HOSTILE}
    home.mkdir(exist_ok=True)
    (home / "audit.log").write_text(json.dumps(line) + "\n")
    res = run("authsome", "log")
    assert res.returncode == 0, res.stderr
    assert raw_controls(res.stdout) == [] and "\\x1b]0;pwned" in res.stdout
    res = run("authsome", "log", "--json")
    assert raw_controls(res.stdout) == [] and json.loads(res.stdout)[0]["event"].startswith("read")


def test_list_warning_names_a_hostile_file_escaped(home, run):
    providers = home / "providers"
    providers.mkdir(parents=True, exist_ok=True)
    (providers / "evil\x1b]0;pwned\x07\x9b2J.json").write_text("{not json")
    res = run("authsome", "list")
    assert res.returncode == 0, res.stderr
    assert "broken provider file" in res.stderr
    assert raw_controls(res.stderr) == [] and "\\x1b]0;pwned" in res.stderr
