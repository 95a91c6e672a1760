"""Helpers for the OAuth engine tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from support.authserver import AuthServer
from support.cli import tool
from support.fixtures import free_port, redirect
from support.providers import write_definition

__all__ = ["free_port", "redirect", "tool"]  # re-exported for the tests here


def write_provider(home: Path, srv: AuthServer, name: str, **oauth: Any) -> dict:
    """A custom provider definition whose endpoints are the test server's."""
    flow = oauth.pop("flow", "pkce")
    cfg = {
        "authorization_url": srv.authorization_url,
        "token_url": srv.token_url,
        "revocation_url": srv.revocation_url,
        "device_authorization_url": srv.device_authorization_url,
        "registration_url": None,
        "metadata_url": None,
        "scopes": ["read", "write"],
        "pkce": True,
        "supports_device_code": True,
        "supports_dcr": False,
        "client_auth": "body",
        "authorization_params": {},
    }
    cfg.update(oauth)
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": name.title(),
        "description": "test provider on the loopback authorization server",
        "auth_type": "oauth2",
        "flow": flow,
        "api_url": [f"api.{name}.test"],
        "oauth": cfg,
        "api_key": None,
        "env": {"access_token": f"{name.upper()}_TOKEN"},
        "git_hosts": [],
        "docs_url": None,
    }
    write_definition(home, definition)
    return definition


class Login:
    """`authsome login ...` as a background process, so the test can act meanwhile."""

    def __init__(self, *args: str, stdin: str | None = None):
        self.proc = subprocess.Popen(
            [tool("authsome"), "login", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None
        self.out = ""
        self.err = ""

    def wait(self, timeout: float = 60) -> int:
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def port_free(p: int) -> bool:
    """Nobody listens on p (SO_REUSEADDR, as our server binds: TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        return True


def secrets_seen(srv: AuthServer) -> set[str]:
    """Every secret that crossed the test server: tokens, codes, client secrets, verifiers."""
    out: set[str] = set()
    for entry in srv.requests:
        form = entry.get("form") or {}
        for key in (
            "code",
            "client_secret",
            "refresh_token",
            "token",
            "device_code",
            "code_verifier",
        ):
            if form.get(key):
                out.add(form[key])
    with srv._backend.lock:
        for rec in srv._backend.store.by_access.values():
            out.add(rec.access_token)
            if rec.refresh_token:
                out.add(rec.refresh_token)
    return {s for s in out if len(s) >= 8}


def assert_no_leak(texts: list[str], home: Path, secrets: set[str]) -> None:
    """No secret in any captured output, nor in any plaintext file under the home."""
    blobs = list(texts)
    for path in home.rglob("*"):
        if path.is_file() and "vault" not in path.parts:
            blobs.append(path.read_text(errors="replace"))
    for secret in secrets:
        for blob in blobs:
            assert secret not in blob, "a secret leaked into output or a plaintext file"
