"""The proxy injects an OAuth token in the provider's own header (oauth.header_name)."""

from __future__ import annotations

import json

from proxy.conftest import API_HOST, authsome_run, resolve_args, store
from support.providers import oauth_definition, write_oauth_provider


def test_token_replaces_placeholder_in_the_providers_header(home, pki, upstream, monkeypatch):
    monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(pki["ca"]))
    oauth = {**oauth_definition("hdrapi")["oauth"], "header_name": "X-Test-Token"}
    write_oauth_provider(home, "hdrapi", [API_HOST], oauth={**oauth, "header_prefix": None})
    store("hdrapi", "tok-hdr-4e2a")
    url = f"https://{API_HOST}:{upstream.port}/echo"
    curl = ["sh", "-c", 'curl -sS -H "X-Test-Token: $HDRAPI_TOKEN" "$0"', url]
    res = authsome_run(*resolve_args(upstream.port), "--", *curl)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["path"] == "/echo"
    sent = upstream.headers_of()
    # the child's placeholder replaced, not duplicated, and no Authorization added
    assert [v for k, v in sent if k.lower() == "x-test-token"] == ["tok-hdr-4e2a"]
    assert [k for k, _ in sent if k.lower() == "authorization"] == []
    assert "tok-hdr-4e2a" not in res.stderr
