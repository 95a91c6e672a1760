"""Run our console scripts as real processes (shared by every test directory)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Absolute path of one of our console scripts in the running venv."""
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name) or name


def run_tool(name: str, *args: str, input: str | bytes | None = None, env=None, timeout=60):
    """Run one of our console scripts as a real process; returns CompletedProcess (text)."""
    text = not isinstance(input, bytes)
    return subprocess.run(
        [tool(name), *args],
        input=input,
        capture_output=True,
        text=text,
        env=env,
        timeout=timeout,
    )
