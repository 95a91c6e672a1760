"""Fixtures for templated hosts, import and the everyday CLI: the real test authorization
server (optionally answering Salesforce-style `instance_url`), the browser stand-in, a
free callback port, and templated provider definitions pointing at the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import support.providers
from support.authserver import AuthServer
from support.fixtures import redirect, use_callback_port, use_fake_browser

__all__ = ["redirect"]  # re-exported for the tests here


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


@pytest.fixture
def port(monkeypatch) -> int:
    return use_callback_port(monkeypatch)


@pytest.fixture
def browser(tmp_path, monkeypatch) -> Path:
    """BROWSER = the stand-in that clicks "allow"; returns the log of URLs it visited."""
    return use_fake_browser(tmp_path, monkeypatch)


def write_definition(home: Path, definition: dict) -> Path:
    return support.providers.write_definition(home, definition, indent=2)


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
