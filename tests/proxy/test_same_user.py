"""Without --sandbox: another process of the same (ordinary) user cannot read the
proxy's or the warm agent's environment or memory (they are non-dumpable), and the
vault key is not left in `run`'s /proc/PID/environ. Both sides run as an ordinary user:
root would read these files whatever the process allows."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

from support.local_services import children_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

# What a same-user attacker does: read environ, maps and a page of each readable mapping.
PEEK = r"""
import json, sys
pid = int(sys.argv[1])
out = {}
for name in ("environ", "maps", "mem"):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            if name == "mem":
                f.seek(int(open(f"/proc/{pid}/maps").readline().split("-")[0], 16))
            out[name] = f.read(4096).decode("latin-1")
    except OSError as exc:
        out[name] = f"{type(exc).__name__}"
print(json.dumps(out))
"""


def _wait_for(predicate, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _env(user, home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{os.path.dirname(user.python)}:{user.bin}:/usr/bin:/bin",
        "HOME": str(home),
        "AUTHSOME_HOME": str(home / "a"),
        "AUTHSOME_AGENT": "0",
        "LANG": "C.UTF-8",
        **extra,
    }


def _peek(user, env, pid: int) -> dict:
    res = user.run([user.python, "-c", PEEK, str(pid)], env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture
def user_home(ordinary_user):
    base = Path(tempfile.mkdtemp(dir=ordinary_user.base))
    os.chown(base, ordinary_user.uid, ordinary_user.gid)
    return base


def test_proxy_environ_and_memory_are_closed_to_the_same_user(ordinary_user, user_home):
    user = ordinary_user
    key = base64.b64encode(os.urandom(32)).decode()
    env = _env(user, user_home, AUTHSOME_MASTER_KEY=key)
    ready = user_home / "ready"
    run = user.popen(
        ["authsome", "run", "--", "sh", "-c", f"touch {ready}; exec sleep 60"],
        env, stdout=-1, stderr=-1,
    )  # fmt: skip
    try:
        _wait_for(ready.exists)
        seen = _peek(user, env, run.pid)
        assert seen == {"environ": "PermissionError", "maps": "PermissionError",
                        "mem": "PermissionError"}  # fmt: skip
        # and the key is blanked where the kernel keeps the exec-time environment
        # (root still reads the file: it is what a later reader would find)
        environ = Path(f"/proc/{run.pid}/environ").read_bytes()
        if os.getuid() == 0:
            assert b"AUTHSOME_MASTER_KEY=" in environ and key.encode() not in environ
    finally:
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=30)


def test_agent_memory_is_closed_to_the_same_user(ordinary_user, user_home):
    user = ordinary_user
    env = _env(user, user_home, AUTHSOME_AGENT="1", AUTHSOME_AGENT_TIMEOUT="60")
    sock = user_home / "a" / "agent" / "agent.sock"
    agent = user.popen([user.python, "-m", "authsome.agent"], env, stdout=-1, stderr=-1)
    try:
        _wait_for(sock.exists)
        seen = _peek(user, env, agent.pid)
        assert seen["mem"] == "PermissionError" and seen["environ"] == "PermissionError"
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)


@pytest.mark.parametrize("opts", [[], ["--sandbox"]], ids=["plain", "sandbox"])
def test_run_through_the_agent_is_closed_to_the_same_user(ordinary_user, user_home, opts):
    """The thin client (it had the key in its environment) and the run's own process,
    forked from the agent, are both non-dumpable; with --sandbox too, where the client
    forks the sandbox's namespace helper."""
    if opts and shutil.which("bwrap") is None:
        pytest.skip("--sandbox needs bubblewrap (.ci/run installs it)")
    user = ordinary_user
    key = base64.b64encode(os.urandom(32)).decode()
    env = _env(user, user_home, AUTHSOME_MASTER_KEY=key, AUTHSOME_AGENT="1")
    env["AUTHSOME_AGENT_TIMEOUT"] = "60"
    (user_home / "a").mkdir(mode=0o700)
    os.chown(user_home / "a", user.uid, user.gid)
    sock = user_home / "a" / "agent" / "agent.sock"
    agent = user.popen([user.python, "-m", "authsome.agent"], env, stdout=-1, stderr=-1)
    ready = user_home / "ready"
    run = None
    try:
        _wait_for(sock.exists)
        status = "from authsome.agent import client; import sys; "
        status += "sys.exit(client.control(sys.argv[1], 'status') is None)"
        ask = [user.python, "-c", status, env["AUTHSOME_HOME"]]
        show = "from authsome.agent import client; import sys, json; "
        show += "print(json.dumps(client.control(sys.argv[1], 'status')))"
        ask_spare = [user.python, "-c", show, env["AUTHSOME_HOME"]]
        _wait_for(lambda: user.run(ask, env).returncode == 0)  # it listens
        run = user.popen(
            ["authsome", "run", *opts, "--", "sh", "-c", f"touch {ready}; exec sleep 60"],
            env, stdout=-1, stderr=-1,
        )  # fmt: skip
        _wait_for(ready.exists)

        def spare() -> int:
            out = user.run(ask_spare, env, capture_output=True).stdout
            return int(json.loads(out)["spare"])

        _wait_for(lambda: spare() != 0)  # the next run's process, made ahead
        forked = set(children_of(agent.pid))
        assert len(forked - {spare()}) == 1  # the run went through the agent
        closed = {"environ": "PermissionError", "maps": "PermissionError",
                  "mem": "PermissionError"}  # fmt: skip
        assert _peek(user, env, run.pid) == closed
        for pid in forked:  # the run's process, and the spare (it holds the data key too)
            assert _peek(user, env, pid) == closed
        if os.getuid() == 0:
            environ = Path(f"/proc/{run.pid}/environ").read_bytes()
            assert b"AUTHSOME_MASTER_KEY=" in environ and key.encode() not in environ
    finally:
        if run is not None:
            run.send_signal(signal.SIGTERM)
            _, err = run.communicate(timeout=30)
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)
    assert run.returncode == 143, err  # SIGTERM reached `sleep` (behind bwrap) and ended it
