"""Fixtures for the warm agent: a short home (AF_UNIX paths are short), the agent enabled,
and every agent started by a test stopped (and waited for) at teardown."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from authsome.agent import client
from support.cli import tool
from support.providers import BENCH, write_definition


class AgentHome:
    def __init__(self, path: str, env: dict):
        self.path, self.env = path, env

    def run(self, name: str, *args: str, input: bytes = b"", env: dict | None = None, **kw):
        return subprocess.run(
            [tool(name), *args],
            input=input,
            capture_output=True,
            env=dict(self.env, **(env or {})),
            timeout=30,
            **kw,
        )

    def status(self) -> dict | None:
        return client.control(self.path, "status")

    def wait_agent(self, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.status()
            if info is not None:
                return info
            time.sleep(0.05)
        raise AssertionError("no agent came up")

    def start_agent(self) -> dict:
        """Any routed run with no agent spawns one; wait until it serves."""
        self.run("authsome-helper", "version")
        return self.wait_agent()

    def stop_agent(self) -> None:
        info = client.control(self.path, "stop")
        if info is not None:
            wait_gone(int(info["pid"]))


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def agent_home(monkeypatch):
    path = tempfile.mkdtemp(prefix="ag", dir="/tmp")
    os.chmod(path, 0o700)
    write_definition(Path(path), BENCH)
    env = dict(os.environ)
    for name in ("AUTHSOME_PASSPHRASE", "AUTHSOME_VAULT_URL", "KUBERNETES_EXEC_INFO"):
        env.pop(name, None)
    env.update(
        AUTHSOME_HOME=path,
        AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        AUTHSOME_AGENT="1",
        NO_COLOR="1",
    )
    for name in ("AUTHSOME_HOME", "AUTHSOME_MASTER_KEY", "AUTHSOME_AGENT"):
        monkeypatch.setenv(name, env[name])
    home = AgentHome(path, env)
    try:
        yield home
    finally:
        home.stop_agent()
        shutil.rmtree(path, ignore_errors=True)
