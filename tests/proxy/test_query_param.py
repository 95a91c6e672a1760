"""The proxy sets an API key that goes in the query (`api_key.query_param`, SerpApi)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

from proxy.conftest import API_HOST, authsome_run, resolve_args
from support.cli import run_tool
from support.providers import write_definition

KEY = "serp key/4+e=2"  # characters that must be percent-encoded in a query


def test_key_replaces_placeholder_in_the_query_and_stays_out_of_the_log(
    home, pki, upstream, monkeypatch
):
    monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(pki["ca"]))
    write_definition(
        home,
        {
            "schema_version": 1,
            "name": "qkey",
            "display_name": "qkey",
            "auth_type": "api_key",
            "flow": "api_key",
            "api_url": [API_HOST],
            "api_key": {"header_name": None, "header_prefix": None, "query_param": "api_key"},
            "env": {"api_key": "QKEY_KEY"},
        },
    )
    stored = run_tool("authsome-helper", "store", "qkey", input=json.dumps({"api_key": KEY}))
    assert stored.returncode == 0, stored.stderr
    # $QKEY_KEY is the run's placeholder (authsome-proxy-managed), as a tool would send it
    url = f"https://{API_HOST}:{upstream.port}/echo?q=coffee&api_key=$QKEY_KEY&n=2"
    curl = ["sh", "-c", f'curl -sS "{url}"']
    res = authsome_run(*resolve_args(upstream.port), "--", *curl)
    assert res.returncode == 0, res.stderr
    target = urlsplit(json.loads(res.stdout)["path"])
    assert target.path == "/echo"
    # the child's placeholder replaced, not duplicated; the other parameters kept in order
    assert parse_qsl(target.query) == [("q", "coffee"), ("n", "2"), ("api_key", KEY)]
    assert [k for k, _ in upstream.headers_of() if k.lower() == "authorization"] == []
    assert KEY not in res.stderr
    logged = "".join(p.read_text() for p in home.rglob("*.log"))
    assert "/echo" in logged and "serp" not in logged
