"""Shared fixtures: a private authsome home per test, with a vault key from the environment.

Tests that exercise the real Secret Service carry the `keyring` marker and drop
AUTHSOME_MASTER_KEY themselves (scripts/test runs the suite under dbus-run-session
with an unlocked gnome-keyring).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from support.cli import run_tool, tool  # noqa: F401  (re-exported for tests)
from support.ordinary_user import ordinary_user  # noqa: F401  (a session fixture)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh AUTHSOME_HOME with a random vault key in AUTHSOME_MASTER_KEY."""
    h = tmp_path / "authsome-home"
    monkeypatch.setenv("AUTHSOME_HOME", str(h))
    monkeypatch.setenv("AUTHSOME_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("AUTHSOME_PASSPHRASE", raising=False)
    monkeypatch.delenv("AUTHSOME_VAULT_URL", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("AUTHSOME_AGENT", "0")  # tests/agent/ enable the warm agent themselves
    return h


@pytest.fixture
def run():
    return run_tool
