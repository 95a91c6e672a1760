"""Fixtures for the OAuth engine tests: the real test authorization server on loopback,
the browser stand-in, a free callback port, and provider definitions pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oauth.kit import free_port
from support.authserver import AuthServer
from support.browser import ACTION_ENV, LOG_ENV, browser_command


@pytest.fixture
def server() -> Iterator[AuthServer]:
    with AuthServer() as srv:
        yield srv


@pytest.fixture
def port(monkeypatch) -> int:
    p = free_port()
    monkeypatch.setenv("AUTHSOME_CALLBACK_PORT", str(p))
    return p


@pytest.fixture
def browser(tmp_path, monkeypatch) -> Path:
    """BROWSER = the stand-in that clicks "allow"; returns the log of URLs it visited."""
    log = tmp_path / "browser.log"
    monkeypatch.setenv("BROWSER", browser_command())
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.delenv(ACTION_ENV, raising=False)
    return log


@pytest.fixture
def idle_browser(browser, monkeypatch) -> Path:
    """A browser that opens the URL and then does nothing (a user who walks away)."""
    monkeypatch.setenv(ACTION_ENV, "ignore")
    return browser
