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

from support.cli import run_tool
from support.tiers import in_quick_tier

# Fixtures every directory may use: the test authorization server and browser stand-in,
# and the ordinary (unprivileged) user for same-user attacks.
pytest_plugins = ("support.fixtures", "support.ordinary_user")

TESTS = Path(__file__).parent


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="only the quick tier: pure and unit tests (tests/support/tiers.py), not `slow`",
    )


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Under --quick, files outside the quick tier (support/tiers.py) are not even imported."""
    if not config.getoption("--quick"):
        return None
    try:
        rel = collection_path.relative_to(TESTS).as_posix()
    except ValueError:
        return None
    if collection_path.is_dir():
        rel += "/"
    return not in_quick_tier(rel)


# Tests that must not run at the same time as each other on two pytest-xdist workers
# (scripts/test runs `-n N --dist loadgroup`): one group runs on one worker.
# postgres/: one cluster per worker would mean several initdb runs (and apt-get).
SHARED_WORKER = {"postgres/": "postgres"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        rel = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        for prefix, group in SHARED_WORKER.items():
            if rel.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
    if not config.getoption("--quick"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


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
