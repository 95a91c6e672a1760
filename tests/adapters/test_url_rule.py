"""One URL rule for every adapter that hands out a token by host (issue #14 item 6).

`https://evil.test\\@api.forge.test/x` is `evil.test` to a WHATWG parser (browsers,
Node's URL, many clients) and was `api.forge.test` to us: the headers adapter gave the
token. URIs with userinfo or backslashes are refused by the headers, git and docker
adapters alike (and by the proxy, tests/proxy/test_misdirected.py).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authsome.protocol import urls
from support.cli import run_tool
from support.providers import write_oauth_provider

TOKEN = "tok-url-rule-5d1"
AMBIGUOUS = [
    "https://evil.test\\@api.forge.test/x",
    "https://evil.test\\\\@api.forge.test/x",
    "https://user@api.forge.test/x",
    "https://user:pw@api.forge.test/x",
    "https://api.forge.test\\x",
]


@pytest.fixture
def forge(home, run):
    write_oauth_provider(
        home,
        "forge",
        api_url=["api.forge.test"],
        git_hosts=[{"host": "api.forge.test", "username": "x-access-token"}],
        docker_registries=[{"registry": "api.forge.test", "username": "bot"}],
    )
    r = run("authsome-helper", "store", "forge", input=json.dumps({"access_token": TOKEN}))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("uri", AMBIGUOUS)
def test_headers_refuses_a_uri_parsers_read_differently(run, forge, uri):
    r = run("authsome-helper", "headers", input=json.dumps({"uri": uri}))
    assert r.returncode == 2 and TOKEN not in r.stdout, r.stdout
    assert r.stderr.count("\n") == 1 and "refused" in r.stderr and "Traceback" not in r.stderr
    ok = run("authsome-helper", "headers", input=json.dumps({"uri": "https://api.forge.test/x"}))
    assert json.loads(ok.stdout)["headers"] == {"Authorization": [f"Bearer {TOKEN}"]}


@pytest.mark.parametrize("host", ["evil.test\\@api.forge.test", "user@api.forge.test"])
def test_git_gives_no_token_for_such_a_host(run, forge, host):
    r = run("git-credential-authsome", "get", input=f"protocol=https\nhost={host}\n\n")
    assert r.returncode == 0 and TOKEN not in r.stdout
    ok = run("git-credential-authsome", "get", input="protocol=https\nhost=api.forge.test\n\n")
    assert f"password={TOKEN}" in ok.stdout


@pytest.mark.parametrize("url", AMBIGUOUS)
def test_docker_gives_no_token_for_such_a_url(forge, url):
    r = run_tool("docker-credential-authsome", "get", input=url.encode())
    assert TOKEN.encode() not in r.stdout
    ok = run_tool("docker-credential-authsome", "get", input=b"https://api.forge.test/v2/")
    assert json.loads(ok.stdout)["Secret"] == TOKEN


@given(text=st.text(max_size=60) | st.from_regex(r"https?://[a-z.@\\:%0-9\[\]]{0,30}/?.{0,10}"))
def test_the_rule_accepts_only_plain_hosts(text):
    try:
        url = urls.split_url(text)
    except urls.URLRefused:
        return
    assert url.host and not set(url.host) & set("@\\%/ ") and url.host == url.host.lower()
    assert 0 <= url.port < 65536 and url.path.startswith("/")
