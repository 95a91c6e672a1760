"""Fixtures for templated hosts, import and the everyday CLI: the real test authorization
server (optionally answering Salesforce-style `instance_url`), the browser stand-in, a
free callback port, and templated provider definitions pointing at the server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.authserver import AuthServer
from support.browser import ACTION_ENV, LOG_ENV, browser_command


class InstanceServer(AuthServer):
    """The test server, whose successful token responses also carry `instance_url`
    (as Salesforce's do) while `instance_url` is set."""

    instance_url: str | None = None

    def handle(self, method: str, path: str, req: Any) -> tuple[int, bytes, str, list]:
        status, body, ctype, headers = super().handle(method, path, req)
        if path == "/token" and status == 200 and self.instance_url:
            data = json.loads(body)
            data["instance_url"] = self.instance_url
            body = json.dumps(data).encode()
        return status, body, ctype, headers


@pytest.fixture
def server() -> Iterator[InstanceServer]:
    with InstanceServer() as srv:
        yield srv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port(monkeypatch) -> int:
    p = free_port()
    monkeypatch.setenv("AUTHSOME_CALLBACK_PORT", str(p))
    return p


@pytest.fixture
def browser(tmp_path, monkeypatch) -> Path:
    """BROWSER = the stand-in that clicks "allow"; returns the log of URLs it visited."""
    log = tmp_path / "browser.log"
    monkeypatch.setenv("BROWSER", browser_command())
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(ACTION_ENV, raising=False)
    return log


def redirect(port: int) -> str:
    return f"http://127.0.0.1:{port}/auth/callback/oauth"


def write_definition(home: Path, definition: dict) -> Path:
    folder = home / "providers"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{definition['name']}.json"
    path.write_text(json.dumps(definition, indent=2))
    path.chmod(0o600)
    return path


def templated_provider(name: str = "tenantco", **extra: Any) -> dict:
    """OAuth endpoints at http://{host}/... (the test server's 127.0.0.1:PORT) and the API
    at {tenant}.tenant.test: both filled per connection with --set."""
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": "TenantCo",
        "description": "self-hosted test service",
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": ["{tenant}.tenant.test"],
        "oauth": {
            "authorization_url": "http://{host}/authorize",
            "token_url": "http://{host}/token",
            "revocation_url": "http://{host}/revoke",
            "scopes": ["read"],
            "pkce": True,
        },
        "env": {"access_token": "TENANTCO_TOKEN", "refresh_token": "TENANTCO_REFRESH_TOKEN"},
        "templates": {
            "host": {"description": "Host of your instance", "example": "auth.acme.test"},
            "tenant": {"description": "Your tenant", "example": "acme"},
        },
    }
    definition.update(extra)
    return definition
