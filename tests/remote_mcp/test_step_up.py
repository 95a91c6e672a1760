"""A 403 insufficient_scope through `authsome run`: one line naming the missing scope and
the login that adds it; `authsome-helper get` says the same until that login; the
server's SSE stream reaches the agent event by event."""

from __future__ import annotations

import json
import os
import re
import shlex

from remote_mcp.conftest import agent, call
from support.mcp_server import MCP_HOST, SCOPE, McpTestServer

ADMIN = "mcp:admin"


def redirect() -> str:
    return f"http://127.0.0.1:{os.environ['AUTHSOME_CALLBACK_PORT']}/auth/callback/oauth"


def test_insufficient_scope_then_step_up(home, auth, pki, reach, run):
    # The client may get only mcp:tools; the server wants mcp:admin as well.
    auth.register_client("mine", redirect_uris=[redirect()], scope=SCOPE)
    with McpTestServer(auth, pki, required_scopes=(SCOPE, ADMIN)) as mcp:
        mcp.challenges.scope_hint = ADMIN
        res = run("authsome", "login", "--mcp", mcp.url, "--client-id", "mine")
        assert res.returncode == 0, res.stderr
        assert f"Scopes: {SCOPE}" in res.stderr

        status, out, err = call(mcp)
        assert status != 0 and "result:" not in out
        lines = [line for line in err.splitlines() if "insufficient" in line or ADMIN in line]
        assert len(lines) == 1, err  # once per run, however many requests were refused
        assert lines[0].startswith(f"authsome run: {MCP_HOST} (default) needs scope {ADMIN}")

        got = run("authsome-helper", "get", MCP_HOST)
        assert got.returncode == 5
        error = json.loads(got.stdout)["error"]
        assert error["code"] == "reauth_required" and error["scopes"] == [ADMIN]

        # The administrator lets the client have mcp:admin; the printed command adds it.
        auth.register_client("mine", redirect_uris=[redirect()], scope=f"{SCOPE} {ADMIN}")
        command = shlex.split(re.search(r"`(authsome login [^`]+)`", lines[0]).group(1))
        assert command[-2:] == ["--scopes", ADMIN]
        res = run(*command)
        assert res.returncode == 0, res.stderr
        assert ADMIN in res.stderr.splitlines()[-1]
        assert run("authsome-helper", "get", MCP_HOST).returncode == 0

        status, out, err = call(mcp)
        assert status == 0 and "result: echo: hi" in out, err


def test_sse_events_arrive_one_by_one(home, auth, mcp, reach, run):
    res = run("authsome", "login", "--mcp", mcp.url)
    assert res.returncode == 0, res.stderr
    proc = agent(mcp, "ticks")
    try:
        # The tool holds its second event until released: the first must reach the
        # agent through the proxy before that, or this readline waits for the timeout.
        assert proc.stdout.readline().strip() == "progress: tick 1"
        assert not mcp.release.is_set()
        mcp.release.set()
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert rest.splitlines() == ["progress: tick 2", "result: done"]
