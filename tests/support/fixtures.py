"""Pytest fixtures around the test authorization server, the browser stand-in and the
loopback callback port, plus the two helpers they share with tests.

Every test sees these fixtures (tests/conftest.py names this module in `pytest_plugins`);
a fixture of another name can call `use_fake_browser` / `use_callback_port`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.authserver import AuthServer
from support.browser import ACTION_ENV, LOG_ENV, browser_command


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redirect(port: int) -> str:
    """The loopback redirect URI `authsome login` listens on at `port`."""
    return f"http://127.0.0.1:{port}/auth/callback/oauth"


@pytest.fixture
def auth_server() -> Iterator[AuthServer]:
    """A started AuthServer with default settings; stopped after the test."""
    with AuthServer() as server:
        yield server


def use_fake_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BROWSER set to the stand-in (inherited by subprocesses); returns its URL log path."""
    log = tmp_path / "browser.log"
    monkeypatch.setenv("BROWSER", browser_command())
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(ACTION_ENV, raising=False)
    return log


def use_callback_port(monkeypatch: pytest.MonkeyPatch) -> int:
    """A free port set as AUTHSOME_CALLBACK_PORT (inherited by subprocesses)."""
    p = free_port()
    monkeypatch.setenv("AUTHSOME_CALLBACK_PORT", str(p))
    return p


@pytest.fixture
def fake_browser(tmp_path, monkeypatch) -> Path:
    return use_fake_browser(tmp_path, monkeypatch)
