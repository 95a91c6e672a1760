"""Real clients (curl, requests, httpx, urllib) as the child of `authsome run`."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from proxy.conftest import (
    API_HOST,
    OTHER_HOST,
    TOKEN,
    authsome_run,
    resolve_args,
    store,
)
from proxy.upstream import Upstream
from support.providers import write_oauth_provider

# Each test twice: run in-process and through the warm agent (proxy.conftest.run_mode).
pytestmark = pytest.mark.usefixtures("run_mode")

PY = sys.executable
# Each client sends the placeholder it finds in its environment as its own Authorization.
CLIENTS = {
    "curl": ["sh", "-c", 'curl -sS -H "Authorization: Bearer $TESTAPI_TOKEN" "$0"'],
    "requests": [
        PY,
        "-c",
        "import os,sys,requests;"
        "h={'Authorization':'Bearer '+os.environ['TESTAPI_TOKEN']};"
        "print(requests.get(sys.argv[1],headers=h,timeout=20).text)",
    ],
    "httpx": [
        PY,
        "-c",
        "import os,sys,httpx;"
        "h={'Authorization':'Bearer '+os.environ['TESTAPI_TOKEN']};"
        "print(httpx.get(sys.argv[1],headers=h,timeout=20).text)",
    ],
    # GNU wget built with GnuTLS (Debian's) reads no CA variable: it trusts the bundle
    # through the wgetrc `run` gives it (WGETRC).
    "wget": ["sh", "-c", 'wget -q -O - --header "Authorization: Bearer $TESTAPI_TOKEN" "$0"'],
    "urllib": [
        PY,
        "-c",
        "import os,sys,urllib.request as u;"
        "r=u.Request(sys.argv[1],headers={'Authorization':'Bearer '+os.environ['TESTAPI_TOKEN']});"
        "print(u.urlopen(r,timeout=20).read().decode())",
    ],
}


def auth_headers(upstream: Upstream, index: int = -1) -> list[str]:
    return [v for k, v in upstream.headers_of(index) if k.lower() == "authorization"]


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_real_token_replaces_placeholder(client, vault, upstream, mode):
    if client == "wget" and shutil.which("wget") is None:
        pytest.skip("wget is not installed")
    url = f"https://{API_HOST}:{upstream.port}/echo?q=secret-query"
    res = authsome_run(*mode, *resolve_args(upstream.port), "--", *CLIENTS[client], url)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["path"] == "/echo?q=secret-query"
    # exactly one Authorization, the real one: replaced, not duplicated
    assert auth_headers(upstream) == [f"Bearer {TOKEN}"]
    assert TOKEN not in res.stderr
    lines = [json.loads(x) for x in (vault / "audit.log").read_text().splitlines()]
    proxied = [x for x in lines if x["event"] == "proxy_request"]
    assert proxied == [
        {
            "time": proxied[0]["time"],
            "event": "proxy_request",
            "provider": "testapi",
            "connection": "default",
            "method": "GET",
            "host": API_HOST,
            "path": "/echo",
            "status": 200,
        }
    ]
    assert TOKEN not in (vault / "audit.log").read_text()


def test_unmatched_host_is_a_blind_tunnel(vault, upstream, pki, mode):
    # --cacert with only the upstream's CA: succeeds only if the child sees the
    # upstream's own certificate, i.e. nobody terminated TLS in between.
    url = f"https://{OTHER_HOST}:{upstream.port}/echo"
    cmd = ["curl", "-sS", "--cacert", str(pki["ca"]), "-H", "Authorization: Bearer mine", url]
    res = authsome_run(*mode, *resolve_args(upstream.port), "--", *cmd)
    assert res.returncode == 0, res.stderr
    assert auth_headers(upstream) == ["Bearer mine"]


def test_intercepted_host_is_not_the_upstream_certificate(vault, upstream, pki):
    """The converse: for the API host the child talks TLS with our CA, not the upstream's."""
    url = f"https://{API_HOST}:{upstream.port}/echo"
    res = authsome_run(
        *resolve_args(upstream.port), "--", "curl", "-sS", "--cacert", str(pki["ca"]), url
    )
    assert res.returncode != 0
    assert upstream.requests == []


def test_plain_http_gets_no_token(vault):
    with Upstream(None) as plain:
        url = f"http://{API_HOST}:{plain.port}/echo"
        res = authsome_run(*resolve_args(plain.port), "--", "curl", "-sS", url)
        assert res.returncode == 0, res.stderr
        assert auth_headers(plain) == []
        assert plain.requests[0]["path"] == "/echo"


def test_ambiguous_match_gets_no_token(vault, upstream):
    write_oauth_provider(vault, "twin", [API_HOST])
    store("twin", "tok-twin-91")
    res = authsome_run(
        *resolve_args(upstream.port),
        "--",
        *CLIENTS["curl"],
        f"https://{API_HOST}:{upstream.port}/echo",
    )
    assert res.returncode == 0, res.stderr
    assert auth_headers(upstream) == ["Bearer authsome-proxy-managed"]


def test_path_prefix_and_only(vault, upstream):
    write_oauth_provider(vault, "v2api", [f"{API_HOST}/v2"])
    store("v2api", "tok-v2-55")
    base = f"https://{API_HOST}:{upstream.port}"
    script = f"curl -sS -o /dev/null {base}/echo && curl -sS -o /dev/null {base}/v2/echo"
    res = authsome_run(*resolve_args(upstream.port), "--", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    assert auth_headers(upstream, 0) == [f"Bearer {TOKEN}"]
    assert auth_headers(upstream, 1) == ["Bearer tok-v2-55"]  # longer prefix wins
    # --only testapi: v2api is not selected, its host path gets testapi's token
    res = authsome_run("--only", "testapi", *resolve_args(upstream.port), "--", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    assert auth_headers(upstream, 3) == [f"Bearer {TOKEN}"]


def test_unbounded_regex_entry_is_named_at_start(vault):
    write_oauth_provider(vault, "looseapi", ["regex:^api[0-9]+\\.internal$"])
    store("looseapi", "tok-loose-1")
    res = authsome_run("--", "true")
    assert res.returncode == 0, res.stderr
    assert "looseapi: api_url regex:^api[0-9]+\\.internal$ has no fixed domain suffix" in (
        res.stderr
    )


def test_connection_pick(vault, upstream, mode):
    store("testapi", "tok-work-33", connection="work")
    url = f"https://{API_HOST}:{upstream.port}/echo"
    res = authsome_run(
        *mode,
        "--connection",
        "testapi=work",
        *resolve_args(upstream.port),
        "--",
        "curl",
        "-sS",
        url,
    )
    assert res.returncode == 0, res.stderr
    assert auth_headers(upstream) == ["Bearer tok-work-33"]
    bad = authsome_run(*mode, "--connection", "testapi=nope", "--", "true")
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    unknown = authsome_run(*mode, "--only", "no-such-provider", "--", "true")
    assert unknown.returncode == 4, unknown.stderr


def test_deny_unmatched_answers_403(vault, upstream, mode):
    base = f"https://{{}}:{upstream.port}/echo"
    script = (
        f"curl -sS -o /dev/null {base.format(API_HOST)} && "
        f'curl -sS -o /dev/null -w "%{{http_connect}}" {base.format(OTHER_HOST)}; echo " rc=$?"'
    )
    res = authsome_run(
        *mode, "--deny-unmatched", *resolve_args(upstream.port), "--", "sh", "-c", script
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith("403") and "rc=56" in res.stdout
    assert len(upstream.requests) == 1


def test_keep_alive_both_sides(vault, upstream, mode):
    script = (
        "import sys,requests;s=requests.Session()\n"
        "for i in range(20): assert s.get(sys.argv[1],timeout=20).status_code==200\n"
    )
    url = f"https://{API_HOST}:{upstream.port}/echo"
    res = authsome_run(*mode, *resolve_args(upstream.port), "--", PY, "-c", script, url)
    assert res.returncode == 0, res.stderr
    assert len(upstream.requests) == 20
    assert upstream.connections == 1  # the proxy reused one upstream connection


def test_upload_streams_and_arrives_intact(vault, upstream, mode):
    script = (
        "import sys,hashlib,requests\n"
        "data=bytes(range(256))*40000\n"  # ~10 MB
        "def gen():\n"
        "    for i in range(0,len(data),100000): yield data[i:i+100000]\n"
        "for body in (data, gen()):\n"
        "    r=requests.post(sys.argv[1],data=body,timeout=60).json()\n"
        "    assert r=={'sha256':hashlib.sha256(data).hexdigest(),'size':len(data)},r\n"
        "print('ok')\n"
    )
    url = f"https://{API_HOST}:{upstream.port}/upload"
    res = authsome_run(*mode, *resolve_args(upstream.port), "--", PY, "-c", script, url)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
    assert [r["method"] for r in upstream.requests] == ["POST", "POST"]
    encodings = [dict((k.lower(), v) for k, v in r["headers"]) for r in upstream.requests]
    assert "content-length" in encodings[0] and encodings[1]["transfer-encoding"] == "chunked"


def test_another_host_header_gets_421_and_no_token(vault, upstream, mode):
    """A Host naming another tenant of the same gateway gets no token (SPEC §6.8)."""
    url = f"https://{API_HOST}:{upstream.port}/echo"
    script = (
        'curl -sS -o /dev/null -w "%{http_code} " -H "Host: evil.example" "$0"; '
        'curl -sS -o /dev/null -w "%{http_code} " -X TRACE "$0"; '
        'curl -sS -o /dev/null -w "%{http_code}" "$0"'
    )
    res = authsome_run(*mode, *resolve_args(upstream.port), "--", "sh", "-c", script, url)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["421", "405", "200"]
    assert [r["method"] for r in upstream.requests] == ["GET"]  # only the honest one arrived
    assert auth_headers(upstream) == [f"Bearer {TOKEN}"]


def test_a_users_own_wgetrc_is_left_alone(vault, tmp_path, monkeypatch):
    """WGETRC would replace the user's wgetrc (which may hold passwords we do not copy):
    with one of their own, `run` sets no WGETRC and writes none."""
    own = tmp_path / "mine"
    own.write_text("tries = 2\n")
    show = [
        PY,
        "-c",
        "import json, os; run_dir = os.path.dirname(os.environ['SSL_CERT_FILE']); "
        "print(json.dumps([os.environ.get('WGETRC'), sorted(os.listdir(run_dir))]))",
    ]
    monkeypatch.setenv("WGETRC", str(own))
    res = authsome_run("--", *show)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [str(own), ["bundle.pem", "ca.pem"]]
    monkeypatch.delenv("WGETRC")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".wgetrc").write_text("tries = 2\n")
    res = authsome_run("--", *show)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [None, ["bundle.pem", "ca.pem"]]
