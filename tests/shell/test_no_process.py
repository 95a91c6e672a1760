"""An unchanged prompt starts no process; a change runs the worker. Counted with strace."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from .conftest import SHELLS, allow, write_project

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")

KEY = "sk-test-" + "c" * 32


@pytest.mark.parametrize("shell", SHELLS)
def test_unchanged_prompts_start_no_process(shell, session, seed, tmp_path, run):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    path = write_project(proj, {"OPENAI_API_KEY": "openai"})
    (proj / "sub").mkdir()
    allow(run, proj)
    s = session(shell, cwd=tmp_path, strace=True)
    s.run("true")
    s.mark("outside-a")
    for _ in range(3):
        s.run("true")  # no project at all
    s.mark("outside-b")
    s.cd(proj)
    assert s.value("OPENAI_API_KEY") == KEY
    time.sleep(1.1)  # past any "racy" second (see watch.py); the next prompt may look once
    s.run("true")
    s.mark("inside-a")
    for _ in range(3):
        s.run("true")
    s.cd(proj / "sub")  # same tree: still nothing to do
    s.run("true")
    s.mark("inside-b")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))  # "edited"
    s.mark("changed-a")
    s.run("true")
    s.mark("changed-b")
    assert s.processes_between("outside-a", "outside-b") == []
    assert s.processes_between("inside-a", "inside-b") == []
    # The control: the counter does see the worker when something changed.
    started = s.processes_between("changed-a", "changed-b")
    assert any("execve(" in line and "authsome" in line for line in started), started
