"""Fixtures for the proxy tests: a test PKI, a local HTTPS upstream reached by name with
--resolve, a provider whose api_url is that name, and a seeded vault."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from proxy.upstream import Upstream
from support.cli import run_tool, tool
from support.pki import make_pki
from support.providers import write_oauth_provider

API_HOST = "api.example.test"
OTHER_HOST = "other.example.test"
TOKEN = "tok-real-7c1f2b9e5d"  # the secret the vault holds for `testapi`


@pytest.fixture
def pki(tmp_path) -> dict[str, Path]:
    return make_pki(tmp_path / "pki", [API_HOST, OTHER_HOST, "git.example.test"])


@pytest.fixture
def upstream(pki):
    with Upstream(pki) as server:
        yield server


def store(name: str, token: str, connection: str = "default", expires_in: int = 3600) -> None:
    body = json.dumps(
        {"access_token": token, "refresh_token": "rt-" + token, "expires_in": expires_in}
    )
    res = run_tool("authsome-helper", "store", name, "--connection", connection, input=body)
    assert res.returncode == 0, res.stderr


@pytest.fixture
def vault(home, pki, monkeypatch):
    """`testapi` (api.example.test) connected with TOKEN; the proxy trusts the test CA."""
    monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(pki["ca"]))
    write_oauth_provider(home, "testapi", [API_HOST])
    store("testapi", TOKEN)
    return home


def resolve_args(port: int, *hosts: str) -> list[str]:
    return [
        a for h in hosts or (API_HOST, OTHER_HOST) for a in ("--resolve", f"{h}:{port}:127.0.0.1")
    ]


def authsome_run(*args: str, timeout: float = 60, env=None, **kw) -> subprocess.CompletedProcess:
    """`authsome run ARGS` as a real process; text output."""
    return subprocess.run(
        [tool("authsome"), "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else dict(os.environ),
        **kw,
    )


@pytest.fixture(params=["plain", "sandbox"])
def mode(request) -> list[str]:
    """The options that put `authsome run` in each mode: the end-to-end tests of the
    proxy run both without and with --sandbox (which needs Linux and bubblewrap)."""
    if request.param == "sandbox":
        import shutil
        import sys

        if not sys.platform.startswith("linux") or shutil.which("bwrap") is None:
            pytest.skip("--sandbox needs Linux and bubblewrap (.ci/run installs it)")
        return ["--sandbox"]
    return []


@pytest.fixture(params=["in-process", "agent"])
def run_mode(request, vault, monkeypatch):
    """`authsome run` both ways: in-process (AUTHSOME_AGENT=0), and through the warm
    agent, whose fork holds the run's proxy while this client starts the child
    (authsome.agent.runs), with --sandbox too (the client starts bwrap and passes the
    listeners back); the agent must really have served the runs."""
    if request.param == "in-process":
        yield request.param
        return
    from authsome.agent import client

    short = tempfile.mkdtemp(prefix="rm", dir="/tmp")  # AF_UNIX paths are short
    home = os.path.join(short, "h")
    os.symlink(vault, home)
    monkeypatch.setenv("AUTHSOME_HOME", home)
    monkeypatch.setenv("AUTHSOME_AGENT", "1")
    subprocess.run([tool("authsome-helper"), "version"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 30
    while (info := client.control(home, "status")) is None:
        assert time.monotonic() < deadline, "no agent came up"
        time.sleep(0.05)
    try:
        yield request.param
        served = int(client.control(home, "status")["served"]) - int(info["served"])
        assert served > 0, "the runs did not go through the agent"
    finally:
        client.control(home, "stop")
        shutil.rmtree(short, ignore_errors=True)
