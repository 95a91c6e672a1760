"""Simulated machines for the shared-vault tests: one AUTHSOME_HOME each, same key and URL.

Every process of a machine runs in its own session (process group); machines share
nothing but the database and the authorization server, as separate hosts would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    return str(BIN / name)


class Machine:
    def __init__(self, home: Path, key: str | None, url: str | None, extra: dict | None = None):
        self.home = home
        self.key = key
        self.url = url
        self.extra = dict(extra or {})  # more environment (PGPASSWORD, ...)
        home.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSOME_")}
        # No warm helper agents from these tests (tests/agent covers the agent).
        env.update(AUTHSOME_HOME=str(self.home), NO_COLOR="1", AUTHSOME_AGENT="0")
        if self.key:
            env["AUTHSOME_MASTER_KEY"] = self.key
        if self.url:
            env["AUTHSOME_VAULT_URL"] = self.url
        env.update(self.extra)
        return env

    def run(self, name: str, *args: str, input: str | None = None, timeout: float = 60):
        return subprocess.run(
            [tool(name), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            start_new_session=True,
        )

    def store_token(self, provider: str, access: str, refresh: str, expires_in: int) -> None:
        body = {"access_token": access, "refresh_token": refresh, "expires_in": expires_in}
        res = self.run("authsome-helper", "store", provider, input=json.dumps(body))
        assert res.returncode == 0, res.stderr

    def at_gate(self, gate: Path, name: str, *args: str) -> subprocess.Popen:
        """A process that waits for `gate` to exist, then execs our tool (all start at once)."""
        starter = (
            "import os, sys, time\n"
            f"while not os.path.exists({str(gate)!r}): time.sleep(0.002)\n"
            f"os.execv({tool(name)!r}, [{name!r}, *sys.argv[1:]])\n"
        )
        return subprocess.Popen(
            [sys.executable, "-c", starter, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            start_new_session=True,
        )

    def start(self, name: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [tool(name), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            start_new_session=True,
        )


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
