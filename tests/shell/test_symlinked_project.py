"""A `.authsome.toml` that is a symlink to an approved file needs its own approval
(issue #14 item 4): approval is for the path where the file was found plus its content."""

from __future__ import annotations

import os

import pytest

from authsome.shell import approval, project

from .conftest import SHELLS, write_project

KEY = "sk-test-" + "b" * 32


def test_a_symlinked_file_does_not_borrow_the_approval(home, tmp_path):
    real = write_project(tmp_path / "approved", {"OPENAI_API_KEY": "openai"})
    content = project.read(str(real))
    approval.allow(str(real), content)
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / ".authsome.toml"
    os.symlink(real, link)
    assert approval.check(str(link), content).state == approval.UNAPPROVED
    # its own approval works, and is its own: denying it leaves the real one approved
    approval.allow(str(link), content)
    assert approval.check(str(link), content).state == approval.ALLOWED
    approval.deny(str(link), content)
    assert approval.check(str(real), content).state == approval.ALLOWED
    # a tree reached through a symlinked directory is still the same tree
    os.symlink(tmp_path / "approved", tmp_path / "alias")
    assert approval.check(str(tmp_path / "alias" / ".authsome.toml"), content).state == (
        approval.ALLOWED
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_entering_a_directory_with_a_symlinked_file_exports_nothing(
    shell, session, seed, tmp_path, run
):
    seed.api_key("openai", KEY)
    real = write_project(tmp_path / "approved", {"OPENAI_API_KEY": "openai"})
    assert run("authsome", "allow", str(tmp_path / "approved")).returncode == 0
    hostile = tmp_path / "cloned"
    hostile.mkdir()
    os.symlink(real, hostile / ".authsome.toml")
    s = session(shell, cwd=tmp_path)
    out = s.cd(hostile)
    assert s.value("OPENAI_API_KEY") is None
    assert out.count(f"run `authsome allow {hostile}`") == 1, out
    s.run("authsome allow .")
    assert s.value("OPENAI_API_KEY") == KEY
