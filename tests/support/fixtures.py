"""Pytest fixtures around the test authorization server and the browser stand-in.

In a conftest: `from support.fixtures import auth_server, fake_browser  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.authserver import AuthServer
from support.browser import ACTION_ENV, LOG_ENV, browser_command


@pytest.fixture
def auth_server() -> Iterator[AuthServer]:
    """A started AuthServer with default settings; stopped after the test."""
    with AuthServer() as server:
        yield server


@pytest.fixture
def fake_browser(tmp_path, monkeypatch) -> Path:
    """BROWSER set to the stand-in (inherited by subprocesses); returns its URL log path."""
    log = tmp_path / "browser.log"
    monkeypatch.setenv("BROWSER", browser_command())
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(ACTION_ENV, raising=False)
    return log
