"""Templated providers: the helpers match the hosts filled in per connection."""

from __future__ import annotations

import json

from authsome.credentials import CredentialService
from authsome.oauth.tokens import TokenSet

DEFINITION = {
    "schema_version": 1,
    "name": "ghe",
    "display_name": "GHE",
    "auth_type": "oauth2",
    "flow": "pkce",
    "api_url": ["{host}/api/v3"],
    "oauth": {"token_url": "https://{host}/login/oauth/access_token"},
    "env": {"access_token": "GHE_TOKEN"},
    "git_hosts": [{"host": "{host}", "username": "x-access-token"}],
    "templates": {"host": {"description": "your server", "example": "ghe.example.com"}},
}


def _setup(home):
    (home / "providers").mkdir(parents=True, exist_ok=True)
    (home / "providers" / "ghe.json").write_text(json.dumps(DEFINITION))
    service = CredentialService(str(home))
    service.store_token(
        "ghe", "acme", TokenSet("acme-token", expires_at=None), params={"host": "ghe.acme.test"}
    )
    service.store_token(
        "ghe",
        "globex",
        TokenSet("globex-token", expires_at=None),
        params={"host": "ghe.globex.test"},
    )


def test_headers_helper_uses_the_connection_whose_host_matches(home, run):
    _setup(home)
    r = run("authsome-helper", "headers", input='{"uri": "https://ghe.globex.test/api/v3/user"}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["headers"] == {"Authorization": ["Bearer globex-token"]}
    r = run("authsome-helper", "headers", input='{"uri": "https://ghe.acme.test/other"}')
    assert json.loads(r.stdout) == {}


def test_git_adapter_answers_for_a_filled_git_host(home, run):
    _setup(home)
    r = run("git-credential-authsome", "get", input="protocol=https\nhost=ghe.acme.test\n\n")
    assert r.returncode == 0, r.stderr
    assert "password=acme-token\n" in r.stdout and "username=x-access-token\n" in r.stdout
