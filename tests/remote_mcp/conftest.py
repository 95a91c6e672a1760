"""Fixtures for the MCP tests: the test authorization server, an MCP server built with
the official SDK (TLS, reached by name), and the environment `authsome login --mcp`
needs to reach it (the test CA trusted, a CONNECT proxy that knows the name)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.authserver import AuthServer
from support.cli import tool
from support.fixtures import use_callback_port, use_fake_browser
from support.mcp_server import MCP_HOST, McpTestServer
from support.name_proxy import NameProxy
from support.pki import make_pki

# The agent: a client from the `mcp` SDK with no auth configured. It prints each
# progress event as it arrives, then the tool's answer.
AGENT = r"""
import sys, anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

async def progress(done, total, message):
    print("progress:", message, flush=True)

async def main(url, tool, args):
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool(tool, args, progress_callback=progress)
            print("result:", result.content[0].text if result.content else result, flush=True)

anyio.run(main, sys.argv[1], sys.argv[2], {"text": "hi"} if sys.argv[2] == "echo" else {})
"""


@pytest.fixture
def pki(tmp_path) -> dict[str, Path]:
    return make_pki(tmp_path / "pki", [MCP_HOST])


@pytest.fixture
def auth() -> Iterator[AuthServer]:
    with AuthServer() as srv:
        yield srv


@pytest.fixture
def mcp(auth, pki) -> Iterator[McpTestServer]:
    with McpTestServer(auth, pki) as server:
        yield server


@pytest.fixture
def reach(home, pki, tmp_path, monkeypatch) -> Iterator[NameProxy]:
    """authsome trusts the test CA and reaches MCP_HOST through a CONNECT proxy; the
    browser stand-in clicks allow; a free callback port."""
    monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(pki["ca"]))
    use_fake_browser(tmp_path, monkeypatch)
    use_callback_port(monkeypatch)
    with NameProxy({MCP_HOST}) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.delenv("https_proxy", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield proxy


def agent(mcp: McpTestServer, tool_name: str = "echo", **kw) -> subprocess.Popen:
    """The SDK client under `authsome run`, reaching MCP_HOST with --resolve."""
    return subprocess.Popen(
        [
            tool("authsome"),
            "run",
            "--resolve",
            f"{MCP_HOST}:{mcp.port}:127.0.0.1",
            "--",
            sys.executable,
            "-c",
            AGENT,
            mcp.url,
            tool_name,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        **kw,
    )


def call(mcp: McpTestServer, tool_name: str = "echo", timeout: float = 60) -> tuple[int, str, str]:
    proc = agent(mcp, tool_name)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return proc.returncode, out, err
