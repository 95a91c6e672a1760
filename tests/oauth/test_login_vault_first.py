"""A login whose vault cannot be opened fails before any flow starts: no loopback
server, no browser URL, no request to the provider, nothing read from stdin stored, and
the same one line and exit 6 (vault unavailable) that the vault write would give.

The mismatch is real: a vault made with one AUTHSOME_MASTER_KEY, then login run with
another (as test_code_flow.py::test_browser_page_waits_for_the_vault_write sets it up)."""

from __future__ import annotations

import base64
import os
import subprocess

import pytest

from authsome.credentials import CredentialService
from oauth.kit import Login, redirect, tool, write_provider

MISMATCH = "does not open this vault"


@pytest.fixture
def other_key(home, run, monkeypatch):
    """A vault holding one record, then a key that does not open it; returns a check
    that the vault is as it was (under the right key again)."""
    seeded = '{"access_token": "vf-other-token-1", "expires_in": 3600}'
    assert run("authsome-helper", "store", "hubspot", input=seeded).returncode == 0
    records = {p: p.read_bytes() for p in (home / "vault").rglob("*.rec")}
    right_key = os.environ["AUTHSOME_MASTER_KEY"]
    monkeypatch.setenv("AUTHSOME_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())

    def unchanged() -> None:
        monkeypatch.setenv("AUTHSOME_MASTER_KEY", right_key)
        assert {p: p.read_bytes() for p in (home / "vault").rglob("*.rec")} == records

    return unchanged


def assert_refused_before_the_flow(code: int, err: str) -> None:
    assert code == 6, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("authsome: ") and MISMATCH in lines[0], err
    assert "http" not in err and "Traceback" not in err  # no URL, no code to enter


@pytest.mark.parametrize(
    "args",
    [
        ("--client-id", "vf-app"),  # straight to the provider's sign-in page
        (),  # the local client form first
        ("--client-id", "vf-app", "--no-browser"),  # the URL printed instead
        ("--client-id", "vf-app", "--flow", "device_code"),
    ],
    ids=["browser", "client-form", "no-browser", "device-code"],
)
def test_oauth_login_stops_before_the_browser(
    home, server, port, idle_browser, other_key, run, args
):
    write_provider(home, server, "vf", pkce=True)
    server.register_client("vf-app", redirect_uris=[redirect(port)])
    # An idle browser and a short timeout: a login that did start waits, then times out (7).
    login = Login("vf", *args, "--timeout", "5")
    assert_refused_before_the_flow(login.wait(), login.err)
    assert not idle_browser.exists()  # no browser opened
    assert server.requests == []  # no device code asked for, no code exchanged
    other_key()
    assert run("authsome-helper", "get", "vf").returncode == 3
    assert CredentialService().client("vf") is None


def test_api_key_stdin_is_not_read_for_a_vault_that_does_not_open(home, other_key, run):
    """The key's source (a password manager piping it in) is not even waited for: login
    fails while stdin is still open, without reading a byte of it."""
    proc = subprocess.Popen(
        [tool("authsome"), "login", "openai", "--api-key-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = proc.wait(timeout=30)  # stdin stays open: a login reading it would hang
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.communicate()
    assert_refused_before_the_flow(code, err)
    other_key()
    res = run("authsome", "login", "openai", "--api-key-stdin", input="sk-vf-key-kept")
    assert res.returncode == 0, res.stderr  # the right key: the same login goes through


def test_a_new_vault_is_made_before_the_flow(home, server, port, browser, run):
    """The check creates a vault that does not exist yet (as the write would have): the
    first login of a fresh home goes through."""
    write_provider(home, server, "vf", pkce=True)
    server.register_client("vf-app", redirect_uris=[redirect(port)])
    assert not (home / "vault").exists()
    login = Login("vf", "--client-id", "vf-app")
    assert login.wait() == 0, login.err
    assert run("authsome-helper", "get", "vf").returncode == 0
