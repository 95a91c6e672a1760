"""The test harness itself: the quick tier's selection, and optional shells that skip."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support.tiers import in_quick_tier

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def pytest_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_quick_tier_collects_only_the_quick_files_and_no_slow_test():
    res = pytest_run("--quick", "--collect-only", "-q")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    files = {line.split("::")[0] for line in res.stdout.splitlines() if "::" in line}
    assert files, res.stdout[-2000:]
    for f in files:
        rel = f.removeprefix("tests/")
        assert in_quick_tier(rel), f
    assert "tests/core/test_vault.py" in files and "tests/proxy/test_pure.py" in files
    assert not any(f.startswith(("tests/postgres", "tests/agent")) for f in files)
    full = pytest_run("--collect-only", "-q", "tests/hardening/test_leak_audit.py")
    assert "test_no_secret_leaks_anywhere" in full.stdout  # a slow test, collected normally
    assert "test_leak_audit" not in res.stdout  # but not in the quick tier


def test_tests_of_missing_shells_skip_instead_of_crashing(tmp_path):
    """A machine without zsh and fish: a PATH holding every other program there is."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name in ("zsh", "fish") or (bare / name).exists():
                continue
            (bare / name).symlink_to(Path(directory) / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{bare}"}
    res = pytest_run("-q", "-rs", "tests/shell/test_project.py", "-k", "fish or zsh", env=env)
    summary = res.stdout.strip().splitlines()[-1]
    assert res.returncode == 0, res.stdout[-3000:]
    assert "failed" not in summary and "error" not in summary, summary
    skipped = int(re.search(r"(\d+) skipped", summary).group(1))
    assert skipped >= 4 and "fish is not installed" in res.stdout
