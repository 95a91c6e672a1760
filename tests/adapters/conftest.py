"""Fixtures for the adapter tests: a test CA, a git smart-HTTP server over TLS on
127.0.0.1 (`support.tls_servers.GitServer`, the real `git http-backend`) that demands
credentials, an isolated git environment, and provider definitions that point at it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.cli import tool
from support.pki import make_pki
from support.tls_servers import GitServer


@pytest.fixture
def tls(tmp_path) -> dict[str, Path]:
    return make_pki(tmp_path, ["localhost", "127.0.0.1"])


@pytest.fixture
def git_server(tmp_path, tls):
    root = tmp_path / "repos"
    root.mkdir()
    with GitServer(root, tls["cert"], tls["key"]) as server:
        yield server


@pytest.fixture
def git_env(home, tmp_path, tls, monkeypatch) -> dict[str, str]:
    """Environment for real git: isolated config, our helper as the only helper, no tty."""
    git_home = tmp_path / "git-home"
    git_home.mkdir()
    (git_home / ".gitconfig").write_text(
        f"[credential]\n\thelper = {tool('git-credential-authsome')}\n[protocol]\n\tversion = 2\n"
    )
    env = dict(os.environ)
    env.update(
        HOME=str(git_home),
        XDG_CONFIG_HOME=str(git_home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_SSL_CAINFO=str(tls["ca"]),
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
    )
    env.pop("GIT_CONFIG_GLOBAL", None)
    return env
