"""Fixtures for the OAuth engine tests: the real test authorization server on loopback,
the browser stand-in, a free callback port, and provider definitions pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.authserver import AuthServer
from support.browser import ACTION_ENV
from support.fixtures import use_callback_port, use_fake_browser


@pytest.fixture
def server() -> Iterator[AuthServer]:
    with AuthServer() as srv:
        yield srv


@pytest.fixture
def port(monkeypatch) -> int:
    return use_callback_port(monkeypatch)


@pytest.fixture
def browser(tmp_path, monkeypatch) -> Path:
    """BROWSER = the stand-in that clicks "allow"; returns the log of URLs it visited."""
    return use_fake_browser(tmp_path, monkeypatch)


@pytest.fixture
def idle_browser(browser, monkeypatch) -> Path:
    """A browser that opens the URL and then does nothing (a user who walks away)."""
    monkeypatch.setenv(ACTION_ENV, "ignore")
    return browser
