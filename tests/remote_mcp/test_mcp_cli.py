"""`authsome login --mcp` refuses bad input with one line and exit 2, touching nothing."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "args, words",
    [
        (["--mcp", "mcp.example.test/mcp"], "needs the server's URL"),
        (["--mcp", "ftp://mcp.example.test/"], "needs the server's URL"),
        # urlsplit raised on these (internal error ValueError / httpx.InvalidURL)
        (["--mcp", "https://[::1/mcp"], "needs the server's URL"),
        (["--mcp", "https://mcp.example.test:abc/mcp"], "needs the server's URL"),
        (["--mcp", "https://mcp.example.test:99999/mcp"], "needs the server's URL"),
        (["--mcp", "https://mcp.example.test/m\x01cp"], "'https://mcp.example.test/m\\x01cp'"),
        (["--mcp", "https://mcp.exa mple.test/mcp"], "needs the server's URL"),
        (["--mcp", "https://u:p@mcp.example.test/mcp"], "user:password@"),
        (["--mcp", "http://mcp.example.test/mcp"], "https://"),  # plain http off loopback
        (["--name", "x"], "--name goes with --mcp"),
        (["github", "--mcp", "https://mcp.example.test/mcp"], "--name"),
        (["--mcp", "https://mcp.example.test/mcp", "--name", "Bad Name"], "provider name"),
        (["--mcp", "https://mcp.example.test/mcp", "--name", "github"], "already a provider"),
        (["--mcp", "https://mcp.example.test/mcp", "--api-key-stdin"], "--api-key-stdin"),
        (["--mcp", "https://mcp.example.test/mcp", "--client-secret-stdin"], "needs --client-id"),
        (
            ["--mcp", "https://m.test/mcp", "--client-metadata-url", "http://me.test/c.json"],
            "--client-metadata-url",
        ),
        (["github", "--client-metadata-url", "https://me.test/c.json"], "not one"),
        ([], "--mcp URL"),
    ],
)
def test_bad_input_is_one_line_exit_2(home, run, args, words):
    res = run("authsome", "login", *args, input="")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    providers = home / "providers"  # made with the home; no definition written into it
    assert not providers.exists() or not any(providers.iterdir())
