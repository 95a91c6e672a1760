"""A token or key with characters no HTTP header can carry (outside Latin-1) is refused
when it is stored, with the SPEC's error, and the vault stays as it was (issue #14
item 7). Before, the proxy logged an internal error when it came to send it."""

from __future__ import annotations

import json

import pytest

from oauth.kit import Login, redirect, write_provider
from support.authserver import AuthServer

EURO = "\u20ac"


def _connections(run) -> list:
    res = run("authsome-helper", "list")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["connections"]


def test_helper_store_refuses_a_token_outside_latin1(home, server, run):
    write_provider(home, server, "uni")
    body = json.dumps({"access_token": f"tok-{EURO}-1", "expires_in": 3600})
    res = run("authsome-helper", "store", "uni", input=body)
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"]["code"] == "bad_request"
    assert "Latin-1" in json.loads(res.stdout)["error"]["message"]
    assert EURO not in res.stdout + res.stderr and "Traceback" not in res.stderr
    assert _connections(run) == []
    # Latin-1 itself goes on the wire as it is (obs-text): kept
    ok = run("authsome-helper", "store", "uni", input=json.dumps({"access_token": "tok-\u00e9"}))
    assert ok.returncode == 0, ok.stdout


@pytest.mark.parametrize("char", ["\r\n", "\n", "\x00", "\t", "\x7f"])
def test_helper_store_refuses_a_token_with_a_control_character(char, home, server, run):
    """A CR/LF in a stored token was kept and handed out as it was (`get`'s `headers`
    field, `export`), splitting a header or a credential line in whoever used it; the
    proxy and the git adapter refused it only later. Refused at store now, like an API
    key with the same characters."""
    write_provider(home, server, "ctl")
    _store = run("authsome-helper", "store", "ctl", input=json.dumps({"access_token": "tok"}))
    assert _store.returncode == 0, _store.stdout
    body = json.dumps({"access_token": f"tok-1{char}X-Injected: 1", "expires_in": 3600})
    res = run("authsome-helper", "store", "ctl", input=body)
    assert res.returncode == 2, res.stdout
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "bad_request" and "control characters" in error["message"]
    assert "Injected" not in res.stdout + res.stderr
    got = run("authsome-helper", "get", "ctl")
    assert json.loads(got.stdout)["access_token"] == "tok"  # the vault kept what it had


def test_api_keys_outside_latin1_are_refused(home, run):
    res = run("authsome", "login", "openai", "--api-key-stdin", input=f"sk-abc{EURO}def\n")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "Latin-1" in res.stderr and EURO not in res.stderr
    res = run("authsome-helper", "store", "openai", input=json.dumps({"api_key": f"sk-{EURO}"}))
    assert res.returncode == 2 and json.loads(res.stdout)["error"]["code"] == "bad_request"
    assert _connections(run) == []


def test_a_token_response_outside_latin1_fails_the_login(home, port, browser, run):
    with AuthServer(quirks={"unicode_token"}) as srv:
        write_provider(home, srv, "unl")
        srv.register_client("c", redirect_uris=[redirect(port)], scope="read write")
        login = Login("unl", "--client-id", "c")
        assert login.wait() == 1
    lines = login.err.strip().splitlines()
    assert "Latin-1" in lines[-1] and sum("Latin-1" in line for line in lines) == 1
    assert "Traceback" not in login.err
    assert EURO not in login.err
    assert _connections(run) == []
