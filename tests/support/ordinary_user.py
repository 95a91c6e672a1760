"""An ordinary (unprivileged) user, and a Python with authsome it can run, for the tests
of same-user attacks: root reads every /proc file whatever a process allows, so both
victim and attacker must run as someone else. CI runs as root and creates the user;
a suite run by an ordinary user runs both sides as that user.

The worktree's .venv interpreter may live where the user cannot execute it (pyenv under
/root); a venv made from a system Python of the same version, readable by everyone,
sees the .venv's site-packages (and the editable authsome) through a .pth file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import NamedTuple

import pytest

USER = os.environ.get("AUTHSOME_TEST_USER", "authsome-test")
SCRIPTS = {
    "authsome": "authsome.cli.main",
    "authsome-helper": "authsome.helper.main",
    "git-credential-authsome": "authsome.adapters.git",
    "docker-credential-authsome": "authsome.adapters.docker",
}


class OrdinaryUser(NamedTuple):
    name: str
    uid: int
    gid: int
    python: str  # an interpreter with authsome that this user can execute
    bin: str  # authsome's entry points for it
    base: Path  # a directory of its own (0700), for homes and files of the test

    def run(self, argv: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
        """`argv` as this user (no supplementary groups); as is if we are that user."""
        if os.getuid() != self.uid:
            kw.update(user=self.uid, group=self.gid, extra_groups=[])
        return subprocess.run(argv, env=env, **kw)

    def popen(self, argv: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
        if os.getuid() != self.uid:
            kw.update(user=self.uid, group=self.gid, extra_groups=[])
        return subprocess.Popen(argv, env=env, **kw)


def _user() -> tuple[str, int, int]:
    if os.getuid() != 0:
        entry = pwd.getpwuid(os.getuid())
        return entry.pw_name, entry.pw_uid, entry.pw_gid
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("running as root without useradd: cannot make an ordinary user")
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", USER], check=True)
        entry = pwd.getpwnam(USER)
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def _runs_as(python: str, uid: int, gid: int) -> bool:
    kw = {} if os.getuid() == uid else {"user": uid, "group": gid, "extra_groups": []}
    try:
        res = subprocess.run([python, "-c", "import authsome"], capture_output=True, **kw)
    except OSError:
        return False
    return res.returncode == 0


def _python_for(uid: int, gid: int, root: Path) -> tuple[str, str]:
    site = sysconfig.get_paths()["purelib"]
    tag = hashlib.sha256(f"{sys.prefix}\0{site}".encode()).hexdigest()[:12]
    venv = root / f"python-{tag}"
    python = str(venv / "bin" / "python")
    if not _runs_as(python, uid, gid):
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        base = shutil.which(version, path="/usr/bin:/usr/local/bin:/bin")
        if base is None:
            pytest.skip(f"no system {version} an ordinary user can run")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
        code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        own = Path(subprocess.check_output([python, "-c", code], text=True).strip())
        (own / "authsome-tests.pth").write_text(f"import site; site.addsitedir({site!r})\n")
        for name, module in SCRIPTS.items():
            script = venv / "bin" / name
            script.write_text(
                f"#!{python}\nimport sys\nfrom {module} import main\nsys.exit(main())\n"
            )
            script.chmod(0o755)
        if not _runs_as(python, uid, gid):
            pytest.skip(f"the user cannot import authsome from {site} (directory modes?)")
    return python, str(venv / "bin")


@pytest.fixture(scope="session")
def ordinary_user(tmp_path_factory) -> OrdinaryUser:
    name, uid, gid = _user()
    root = Path("/var/tmp/authsome-tests") if os.getuid() == 0 else tmp_path_factory.mktemp("u")
    root.mkdir(mode=0o755, exist_ok=True)
    python, bin_dir = _python_for(uid, gid, root)
    base = Path(tmp_path_factory.mktemp("ordinary")) if os.getuid() == uid else None
    if base is None:
        base = root / f"run-{os.getpid()}"
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(mode=0o700)
        os.chown(base, uid, gid)
    yield OrdinaryUser(name, uid, gid, python, bin_dir, base)
    if os.getuid() != uid:
        shutil.rmtree(base, ignore_errors=True)


STATUS = (
    "import json, sys; from authsome.agent import client; "
    "print(json.dumps(client.control(sys.argv[1], 'status')))"
)


@contextlib.contextmanager
def runs_through(user: OrdinaryUser, env: dict[str, str], through: str):
    """The environment for the user's `authsome run`: "in-process" (AUTHSOME_AGENT=0),
    or "agent": through the user's own warm agent, started here (without supplementary
    groups, as an agent started earlier in another login would be) and stopped at the
    end; the runs must really have gone through it."""
    if through == "in-process":
        yield dict(env, AUTHSOME_AGENT="0")
        return
    env = dict(env, AUTHSOME_AGENT="1", AUTHSOME_AGENT_TIMEOUT="120")
    home = Path(env["AUTHSOME_HOME"])
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, user.uid, user.gid)
    agent = user.popen([user.python, "-m", "authsome.agent"], env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def status() -> dict | None:
        ask = [user.python, "-c", STATUS, str(home)]
        return json.loads(user.run(ask, env, capture_output=True, text=True).stdout or "null")

    try:
        deadline = time.monotonic() + 30
        while (before := status()) is None:
            assert agent.poll() is None and time.monotonic() < deadline, "no agent came up"
            time.sleep(0.05)
        yield env
        assert int(status()["served"]) > int(before["served"]), "no run went through the agent"
    finally:
        agent.terminate()
        agent.wait(timeout=30)
