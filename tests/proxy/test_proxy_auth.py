"""The per-run proxy credential: 407 on a connection that stays usable; git retries on it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from proxy.conftest import API_HOST, authsome_run, resolve_args
from support.tls_servers import GitServer

PY = sys.executable

RAW_CLIENT = r"""
import base64, os, socket, sys
from urllib.parse import urlsplit
u = urlsplit(os.environ["HTTPS_PROXY"])
good = base64.b64encode(f"{u.username}:{u.password}".encode()).decode()
s = socket.create_connection((u.hostname, u.port))
f = s.makefile("rb")
target = sys.argv[1]
def connect(cred):
    auth = f"Proxy-Authorization: Basic {cred}\r\n" if cred else ""
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode())
    lines = []
    while (line := f.readline()) not in (b"\r\n", b""):
        lines.append(line.decode().strip())
    fields = dict(x.lower().split(": ", 1) for x in lines[1:])
    if not lines[0].startswith("HTTP/1.1 200"):
        f.read(int(fields["content-length"]))  # the body, so the connection can go on
    return lines[0], fields
status, fields = connect(None)
print(status); print(fields["proxy-authenticate"])
print(connect("d3Jvbmc6d3Jvbmc=")[0])  # wrong credential, same connection
print(connect(good)[0])  # right credential, same connection
"""


def test_407_keeps_the_connection_usable(vault, upstream):
    target = f"{API_HOST}:{upstream.port}"
    res = authsome_run(*resolve_args(upstream.port), "--", PY, "-c", RAW_CLIENT, target)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("HTTP/1.1 407")
    assert lines[1] == 'basic realm="authsome"'
    assert lines[2].startswith("HTTP/1.1 407")
    assert lines[3].startswith("HTTP/1.1 200")


def test_curl_without_the_credential_gets_407(vault, upstream):
    script = (
        'curl -sS -o /dev/null -w "%{http_connect}" --proxy "http://${HTTPS_PROXY#*@}" '
        f'"https://{API_HOST}:{upstream.port}/echo"; echo " rc=$?"'
    )
    res = authsome_run(*resolve_args(upstream.port), "--", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("407") and "rc=56" in res.stdout
    assert upstream.requests == []


def test_git_ls_remote_through_the_proxy_after_407(vault, pki, tmp_path):
    root = tmp_path / "repos"
    root.mkdir()
    with GitServer(root, pki["cert"], pki["key"]) as git:
        git.accept[(None, "alice")] = "pw-alice"
        git.add_repo("demo.git")
        host = "git.example.test"
        url = f"https://alice:pw-alice@{host}:{git.port}/demo.git"
        env = _git_env(tmp_path)
        # git gets the proxy (and its credential) only from HTTPS_PROXY; libcurl first
        # tries without the credential, gets 407 and retries on the same connection.
        res = authsome_run(
            "--resolve",
            f"{host}:{git.port}:127.0.0.1",
            "--",
            "sh",
            "-c",
            f'GIT_SSL_CAINFO={pki["ca"]} git ls-remote "{url}"',
            env=env,
        )
        assert res.returncode == 0, res.stderr
        assert "refs/heads/" in res.stdout
        assert "407" in res.stderr  # GIT_TRACE_CURL shows the challenge and the retry
        assert git.seen and git.seen[-1][0] == "demo.git"


def _git_env(tmp_path: Path) -> dict[str, str]:
    git_home = tmp_path / "git-home"
    git_home.mkdir()
    env = dict(os.environ)
    env.update(
        HOME=str(git_home),
        XDG_CONFIG_HOME=str(git_home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_TRACE_CURL="1",
        GIT_TRACE_CURL_NO_DATA="1",
    )
    env.pop("GIT_CONFIG_GLOBAL", None)
    return env
