"""Write a custom provider definition where the registry looks for it."""

from __future__ import annotations

import json
from pathlib import Path


def write_definition(home: Path, definition: dict, indent: int | None = None) -> Path:
    """$AUTHSOME_HOME/providers/<name>.json (folder 0700, file 0600); returns its path."""
    folder = home / "providers"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{definition['name']}.json"
    path.write_text(json.dumps(definition, indent=indent))
    path.chmod(0o600)
    return path


def oauth_definition(name: str, api_url: list[str] | None = None, **fields) -> dict:
    """A minimal OAuth provider definition (placeholder endpoints; tests store tokens directly)."""
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": name,
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": list(api_url or []),
        "oauth": {
            "authorization_url": "https://auth.example.test/authorize",
            "token_url": "https://auth.example.test/token",
            "scopes": ["read"],
        },
        "env": {"access_token": name.upper() + "_TOKEN"},
    }
    definition.update(fields)
    return definition


def write_oauth_provider(home: Path, name: str, api_url: list[str] | None = None, **fields) -> Path:
    """`oauth_definition` written where the registry looks for it."""
    return write_definition(home, oauth_definition(name, api_url, **fields))


# One provider every adapter answers for (API host, git host, docker registry): used by
# the warm-agent tests and benchmarks/adapters_latency.py.
BENCH = oauth_definition(
    "bench",
    ["api.bench.test"],
    git_hosts=[{"host": "git.bench.test", "username": "x-access-token"}],
    docker_registries=[{"registry": "registry.bench.test", "username": "bot"}],
)
