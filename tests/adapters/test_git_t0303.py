"""git's own test for external credential helpers, t0303-credential-external.sh, against
git-credential-authsome in its storage mode (hosts that no provider's git_hosts names).

The two files come from git's source: a checkout named by AUTHSOME_GIT_SOURCE when set,
else the copies vendored in tests/adapters/t0303/ (with their provenance and licence;
Debian installs no git test suite to take them from). git's test-lib.sh needs a built
git tree, so a small stand-in (t0303/test-lib.sh) runs them against the installed git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import BIN

HERE = Path(__file__).parent / "t0303"
FILES = ("t0303-credential-external.sh", "lib-credential.sh")


def sources() -> dict[str, Path]:
    checkout = os.environ.get("AUTHSOME_GIT_SOURCE")
    if checkout:
        found = {name: Path(checkout) / "t" / name for name in FILES}
        missing = [str(p) for p in found.values() if not p.is_file()]
        if missing:
            pytest.fail(f"AUTHSOME_GIT_SOURCE has no {', '.join(missing)}")
        return found
    return {name: HERE / name for name in FILES}


def test_git_t0303_passes_whole_for_the_storage_helper(home, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "t0303"
    work.mkdir()
    for name, path in sources().items():
        shutil.copy(path, work / name)
    shutil.copy(HERE / "test-lib.sh", work / "test-lib.sh")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GIT_TEST_CREDENTIAL_HELPER": "authsome",
        "LC_ALL": "C",
    }
    env.pop("GIT_TEST_CREDENTIAL_HELPER_TIMEOUT", None)  # authsome has no --timeout
    res = subprocess.run(
        ["sh", "t0303-credential-external.sh"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = res.stdout + res.stderr
    failed = [line for line in res.stdout.splitlines() if line.startswith("not ok")]
    assert failed == [], report[-4000:]
    assert res.returncode == 0, report[-4000:]
    passed = [line for line in res.stdout.splitlines() if line.startswith("ok ")]
    assert len(passed) >= 12, report[-4000:]  # v2.39.5: twelve, the timeout ones skipped
    assert any("can store empty username" in line for line in passed)
