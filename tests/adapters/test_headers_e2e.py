"""`authsome-helper headers`: Bazel's credential helper protocol over api_url matching."""

from __future__ import annotations

import json

from support.providers import write_oauth_provider


def headers(run, uri, *args):
    return run("authsome-helper", "headers", *args, input=json.dumps({"uri": uri}))


def test_matching_provider_answers_headers_and_expiry(home, run):
    write_oauth_provider(home, "forge", api_url=["api.forge.test", "files.forge.test/v2"])
    run(
        "authsome-helper",
        "store",
        "forge",
        input='{"access_token":"tok","expires_at":"2031-02-03T04:05:06Z"}',
    )
    for uri in ("https://api.forge.test/x?y=1", "https://files.forge.test/v2/blob"):
        r = headers(run, uri, "get")  # Bazel appends `get`
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {
            "headers": {"Authorization": ["Bearer tok"]},
            "expires": "2031-02-03T04:05:06Z",
        }
    for uri in (
        "https://files.forge.test/v1/blob",
        "https://other.test/",
        "http://api.forge.test/",
    ):
        r = headers(run, uri)
        assert (r.returncode, r.stdout) == (0, "{}\n"), uri


def test_api_key_provider_header_and_not_connected(home, run):
    write_oauth_provider(
        home,
        "keyed",
        auth_type="api_key",
        flow="api_key",
        oauth=None,
        api_key={"header_name": "X-Api-Key", "header_prefix": None, "env_var": "KEYED_KEY"},
        env={},
        api_url=["api.keyed.test"],
    )
    assert headers(run, "https://api.keyed.test/").stdout == "{}\n"  # no connection yet
    run("authsome-helper", "store", "keyed", input='{"api_key":"k-123"}')
    r = headers(run, "https://api.keyed.test/q")
    assert json.loads(r.stdout) == {"headers": {"X-Api-Key": ["k-123"]}}


def test_oauth_provider_with_its_own_header(home, run):
    oauth = {"token_url": "https://auth.forge.test/token", "header_name": "X-Forge-Token"}
    write_oauth_provider(
        home, "forge", api_url=["api.forge.test"], oauth={**oauth, "header_prefix": ""}
    )
    run("authsome-helper", "store", "forge", input='{"access_token":"tok-f"}')
    r = headers(run, "https://api.forge.test/x")
    assert json.loads(r.stdout) == {"headers": {"X-Forge-Token": ["tok-f"]}}


def test_bad_request(home, run):
    r = run("authsome-helper", "headers", input='{"uri": 3}')
    assert r.returncode == 2
    r = run("authsome-helper", "headers", input='{"uri": "not a url"}')
    assert r.returncode == 2 and r.stdout == ""


def test_query_param_key_has_no_header_to_give(home, run):
    # SerpApi's key goes only in the `api_key` query parameter: the adapter can give headers
    # only, so it answers "no credentials" rather than a header the API would ignore.
    run("authsome-helper", "store", "serpapi", input='{"api_key":"serp-k2"}')
    r = headers(run, "https://serpapi.com/search?q=x")
    assert (r.returncode, r.stdout) == (0, "{}\n")
