"""Project files, approval by content, quoting and the worker, without a terminal."""

from __future__ import annotations

import os
import subprocess

import pytest

from authsome.shell import approval, dialect, project, watch, worker

from .conftest import forge_approval, shell_path, write_project

HOSTILE = [
    "plain",
    "",
    "it's",
    "'",
    "''",
    "a''b",
    "trailing'",
    '"double" \\back\\slash\\',
    "$(touch PWNED)`touch PWNED`${HOME}$HOME",
    "line1\nline2\n",
    "\\'; touch PWNED; echo '",
    "%s %n \\x41 \\u0041 $'\\x41'",
    "tab\there\r\x1b[31mred\x07 \x7f",
    "ünïcødé ✓ 🙂",
    "-n",
    "--",
    "*?[a-z]{1,2}~",
]


@pytest.mark.parametrize(
    "name",
    ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "PYTHONPATH",
     "BASH_ENV", "ENV", "PROMPT_COMMAND", "PS1", "PS4", "IFS", "HOME", "SHELL", "ZDOTDIR",
     "NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "GIT_SSH_COMMAND", "AUTHSOME_MASTER_KEY",
     "__AUTHSOME_VARS", "EDITOR", "SSL_CERT_FILE", "HTTPS_PROXY", "XDG_CONFIG_HOME"],
)  # fmt: skip
def test_names_that_change_how_programs_run_are_refused(name):
    assert "refused" in project.name_problem(name)
    with pytest.raises(project.ProjectError, match=name):
        project.parse(f'[env]\n{name} = "openai"\n'.encode())


@pytest.mark.parametrize("name", ["path", "fish_user_paths", "1ABC", "A-B", "A B", "Ä", ""])
def test_names_must_look_like_environment_variables(name):
    assert "not an environment variable name" in project.name_problem(name)


def test_parse_entries():
    entries = project.parse(
        b'[env]\nHUBSPOT_ACCESS_TOKEN = "hubspot"\nGITHUB_TOKEN = "github:work"\n'
        b'NODE_AUTH_TOKEN = "npm"\n[other]\nx = 1\n'
    )
    assert entries == [
        project.Entry("HUBSPOT_ACCESS_TOKEN", "hubspot", "default"),
        project.Entry("GITHUB_TOKEN", "github", "work"),
        project.Entry("NODE_AUTH_TOKEN", "npm", "default"),
    ]
    assert project.parse(b"") == []


@pytest.mark.parametrize(
    "body, message",
    [
        (b"[env\n", "not valid TOML"),
        (b"env = 3\n", "must be a table"),
        (b"[env]\nX = 3\n", "must be a string"),
        (b'[env]\nX = "git hub"\n', "bad provider"),
        (b'[env]\nX = "github:"\n', "bad connection"),
        (b'[env]\nX = "github:a b"\n', "bad connection"),
        (b'[env]\nX = "$(id)"\n', "bad provider"),
        (b"\xff\xfe", "not UTF-8"),
        (b"# " + b"x" * project.MAX_BYTES + b"\n", "larger"),
    ],
)
def test_bad_files(body, message):
    with pytest.raises(project.ProjectError, match=message):
        project.parse(body)


def test_nearest_file_governs(tmp_path):
    outer = write_project(tmp_path / "a", {"X": "openai"})
    inner = write_project(tmp_path / "a" / "b", {"Y": "openai"})
    (tmp_path / "a" / "b" / "c").mkdir()
    assert project.find(str(tmp_path / "a" / "b" / "c")) == str(inner)
    assert project.find(str(tmp_path / "a")) == str(outer)
    assert project.find(str(tmp_path)) is None


def test_approval_is_by_path_and_content(home, tmp_path):
    path = str(write_project(tmp_path / "p", {"X": "openai"}))
    content = project.read(path)
    assert approval.check(path, content).state == approval.UNAPPROVED
    approval.allow(path, content)
    assert approval.check(path, content).state == approval.ALLOWED
    assert approval.check(path, content + b"\n").state == approval.UNAPPROVED
    # the same content elsewhere is another file
    other = str(write_project(tmp_path / "q", {"X": "openai"}))
    assert approval.check(other, content).state == approval.UNAPPROVED
    # a symlinked path to the same file agrees
    os.symlink(tmp_path / "p", tmp_path / "link")
    assert approval.check(str(tmp_path / "link" / ".authsome.toml"), content).state == "allowed"
    approval.deny(path, content)
    assert approval.check(path, content).state == approval.DENIED
    assert approval.check(path, b"anything").state == approval.DENIED
    approval.allow(path, content)
    assert approval.check(path, content).state == approval.ALLOWED
    allow_dir = home / "allow"
    assert oct(allow_dir.stat().st_mode & 0o777) == "0o700"
    for entry in allow_dir.iterdir():
        assert oct(entry.stat().st_mode & 0o777) == "0o600"


def test_allow_and_deny_commands(home, tmp_path, run):
    proj = tmp_path / "proj"
    write_project(proj, {"X": "openai"})
    (proj / "sub").mkdir()
    r = run("authsome", "allow", str(proj / "sub"))  # found upward, like direnv
    assert r.returncode == 0 and str(proj / ".authsome.toml") in r.stderr
    content = (proj / ".authsome.toml").read_bytes()
    assert approval.check(str(proj / ".authsome.toml"), content).state == approval.ALLOWED
    r = run("authsome", "deny", str(proj))
    assert r.returncode == 0
    assert approval.check(str(proj / ".authsome.toml"), content).state == approval.DENIED
    r = run("authsome", "allow", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = run("authsome", "allow", str(tmp_path))
    assert r.returncode == 2 and "no .authsome.toml" in r.stderr


def test_allow_refuses_a_file_naming_path_or_ld_preload(home, tmp_path, run):
    for name in ("PATH", "LD_PRELOAD"):
        proj = tmp_path / name
        write_project(proj, {"GOOD": "openai", name: "openai"})
        r = run("authsome", "allow", str(proj))
        assert r.returncode == 2, r.stderr
        assert f"{name} is refused" in r.stderr and r.stderr.count("\n") == 1
        content = (proj / ".authsome.toml").read_bytes()
        assert approval.check(str(proj / ".authsome.toml"), content).state != approval.ALLOWED


def _eval_in(shell: str, code: str, name: str, cwd) -> bytes:
    """Eval the worker's kind of code in a real shell; the variable's bytes."""
    if shell == "fish":
        script = f"{code}\nprintf '%s' ${name}"
        argv = [shell_path("fish"), "--no-config", "-c", script]
    elif shell == "zsh":
        script = f'setopt rc_quotes\neval "$CODE"\nprintf %s "${name}"'
        argv = [shell_path("zsh"), "-f", "-c", script]
    else:
        script = f'eval "$CODE"\nprintf %s "${name}"'
        argv = ["bash", "--norc", "-c", script]
    env = dict(os.environ, CODE=code)
    return subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=True).stdout


@pytest.mark.parametrize("shell", dialect.SHELLS)
def test_hostile_values_stay_inside_their_quotes(shell, tmp_path):
    d = dialect.get(shell)
    for value in HOSTILE:
        code = "\n".join([d.export("TOKEN", value), d.assign("__AUTHSOME_FILE", value)])
        got = _eval_in(shell, code, "TOKEN", tmp_path)
        assert got.decode() == value, (shell, value)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("shell", dialect.SHELLS)
def test_lists_round_trip(shell, tmp_path):
    d = dialect.get(shell)
    values = ["/a b/c", "-", "+", "it's", "x\ny"]
    code = d.assign_list("W", values)
    if shell == "fish":
        script = f"{code}\nprintf '%s\\0' $W"
        argv = [shell_path("fish"), "--no-config", "-c", script]
    else:
        script = 'eval "$CODE"\nprintf "%s\\0" "${W[@]}"'
        argv = [shell_path(shell), "-f" if shell == "zsh" else "--norc", "-c", script]
    out = subprocess.run(argv, capture_output=True, env=dict(os.environ, CODE=code), check=True)
    assert out.stdout.split(b"\0")[:-1] == [v.encode() for v in values]


def test_worker_for_an_unapproved_file_exports_nothing_and_says_how(home, tmp_path, capsys):
    path = str(write_project(tmp_path / "p", {"X": "openai"}))
    plan = worker.plan(path, "", [])
    assert plan.exports == {}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"authsome allow {tmp_path / 'p'}" in err
    # Same tree, same content: the message is not repeated.
    worker.plan(path, path, plan.noted)
    assert capsys.readouterr().err == ""


def test_worker_ignores_managed_names_it_must_not_touch(home, capfd):
    assert worker.main(["bash", "", "", "PATH LD_PRELOAD X", ""]) == 0
    out = capfd.readouterr().out
    assert "__authsome_restore X" in out
    assert "PATH" not in out.replace("__AUTHSOME", "") and "LD_PRELOAD" not in out


def test_worker_usage(capsys):
    assert worker.main(["tcsh"]) == 2
    assert "usage" in capsys.readouterr().err


def test_stamps_carry_the_watched_mtime(home, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    w = watch.mtime(str(f))
    stamp = w.spec(stamps=True)
    assert os.stat(stamp).st_mtime_ns == os.stat(f).st_mtime_ns
    assert w.spec(stamps=False) == str(os.stat(f).st_mtime_ns // 10**9)
    assert watch.mtime(str(tmp_path / "missing")).kind == watch.ABSENT


def test_allowed_file_with_forged_approval_still_refuses_path(home, tmp_path, capsys):
    path = write_project(tmp_path / "p", {"PATH": "openai"})
    with pytest.raises(project.ProjectError, match="PATH is refused"):
        approval.allow(str(path), path.read_bytes())
    forge_approval(path, {"PATH": "openai"})  # as if approved by hand
    plan = worker.plan(str(path), "", [])
    assert plan.exports == {}
    assert "PATH is refused" in capsys.readouterr().err


def test_the_approval_records_what_was_checked(home, tmp_path):
    path = write_project(tmp_path / "p", {"X": "openai", "Y": "github:work"})
    appr = approval.allow(str(path), path.read_bytes())
    assert approval.approved_entries(appr) == [
        project.Entry("X", "openai"),
        project.Entry("Y", "github", "work"),
    ]
    with open(appr.allow_entry, "a") as f:
        f.write("garbage\n")
    with pytest.raises(project.ProjectError, match="damaged"):
        approval.approved_entries(appr)
