"""HTTP/1.1 framing cases the proxy must carry right, with real clients as the child:
a HEAD's answer (a Content-Length and no body) on a kept-alive connection, chunked
answers to an HTTP/1.0 client, and uploads that wait for `100 Continue`."""

from __future__ import annotations

import hashlib
import json
import sys

from proxy.conftest import API_HOST, TOKEN, authsome_run, resolve_args

PY = sys.executable

HEAD_THEN_GET = r"""
import sys, requests
base = sys.argv[1]
with requests.Session() as s:
    h = s.head(base + "/echo", timeout=20)
    g = s.get(base + "/echo", timeout=20)
    print(h.status_code, int(h.headers["Content-Length"]) > 0, len(h.content), g.status_code)
"""


def test_head_answer_has_no_body_and_the_connection_goes_on(vault, upstream):
    base = f"https://{API_HOST}:{upstream.port}"
    res = authsome_run(*resolve_args(upstream.port), "--", PY, "-c", HEAD_THEN_GET, base)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["200", "True", "0", "200"]
    # both requests went over one client connection and one upstream connection
    assert upstream.connections == 1
    assert [r["method"] for r in upstream.requests] == ["HEAD", "GET"]


def test_chunked_answer_reaches_an_http10_client_whole(vault, upstream):
    url = f"https://{API_HOST}:{upstream.port}/chunked?n=300000"
    script = f'curl -sS --http1.0 "{url}" | wc -c'
    res = authsome_run(*resolve_args(upstream.port), "--", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "300000"


def test_upload_with_expect_100_continue(vault, upstream, tmp_path):
    data = bytes(range(256)) * 8192  # 2 MiB: curl sends Expect: 100-continue
    body = tmp_path / "body.bin"
    body.write_bytes(data)
    url = f"https://{API_HOST}:{upstream.port}/upload"
    res = authsome_run(
        *resolve_args(upstream.port),
        "--",
        "curl",
        "-sS",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        f"@{body}",
        url,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    sent = dict(upstream.headers_of())
    assert sent["Authorization"] == f"Bearer {TOKEN}"
    assert "Expect" not in sent  # the proxy answered 100 itself; the upstream got the body
