"""What the agent client sends, and to whom (issue #14 item 3).

A fake agent collects whatever a helper run sends it. As another user (a home that
user created first, or a socket of theirs moved into our directory) it must get
nothing; as ourselves it gets only the variables a run reads, and the vault key only
for a run that opens the vault.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile

import pytest

from authsome.agent import client, wire
from support.cli import tool

NOBODY = 65534
KEY = "a2V5LW9mLXRoZS12YXVsdC1ub3QtZm9yLXlvdQ=="  # what the fake agent must never see
UNRELATED = "aws-secret-the-helper-never-reads"


def _fake_agent(path: str, uid: int | None) -> tuple[int, int]:
    """Serve one connection at `path` (as `uid` if given): record what arrives, refuse
    the run. Returns the read end of a pipe that yields the bytes received."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rd)
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(1)
            os.write(wr, b"R")  # ready
            listener.settimeout(30)
            conn, _ = listener.accept()
            conn.settimeout(5)
            got = b""
            try:
                got = b"F" + wire.encode_fields(wire.read_frame(conn.recv))
                conn.sendall(b"-")  # refused: the client runs it itself
            except (ValueError, OSError):
                got = b"F"
            os.write(wr, got)
        except Exception as exc:
            os.write(wr, b"E" + repr(exc).encode())
        finally:
            os._exit(0)
    os.close(wr)
    assert os.read(rd, 1) == b"R", "the fake agent did not start"
    return pid, rd


def _collected(pid: int, rd: int) -> bytes:
    os.waitpid(pid, 0)
    with os.fdopen(rd, "rb") as f:
        return f.read()


def _end_accept(path: str) -> None:
    """If the helper never connected, the fake agent still waits: connect to end it."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
        except OSError:
            pass  # it served the helper and is gone


def _run_helper(home: str, *args: str, extra: dict | None = None):
    env = dict(os.environ, AUTHSOME_HOME=home, AUTHSOME_AGENT="1", AUTHSOME_MASTER_KEY=KEY)
    env.pop("AUTHSOME_PASSPHRASE", None)
    env.update(extra or {})
    return subprocess.run(
        [tool("authsome-helper"), *args], capture_output=True, env=env, timeout=60
    )


def _assert_gets_nothing(home: str, pid: int, rd: int) -> None:
    """A helper run against `home`: the fake agent (pid, rd) receives not a byte."""
    try:
        _run_helper(home, "get", "bench")
    finally:
        _end_accept(client.socket_path(home))
    got = _collected(pid, rd)
    assert not got.startswith(b"E"), got
    assert KEY.encode() not in got and b"AUTHSOME_MASTER_KEY" not in got
    assert got == b"F"  # one connection, ended with nothing sent (the helper's, or ours)


needs_root = pytest.mark.skipif(
    os.getuid() != 0, reason="playing another local user needs root (setuid to nobody)"
)


@needs_root
def test_a_home_another_user_created_gets_nothing(tmp_path):
    home = tempfile.mkdtemp(prefix="hj", dir="/tmp")  # short: AF_UNIX paths
    try:
        agent_dir = os.path.join(home, "agent")
        os.mkdir(agent_dir, 0o700)
        for d in (home, agent_dir):
            os.chown(d, NOBODY, NOBODY)
        os.chmod(home, 0o755)
        pid, rd = _fake_agent(client.socket_path(home), NOBODY)
        _assert_gets_nothing(home, pid, rd)
    finally:
        subprocess.run(["rm", "-rf", home], check=False)


@needs_root
def test_an_agent_of_another_user_in_our_directory_gets_nothing():
    """Our own 0700 directory, but the process behind the socket is not ours."""
    home = tempfile.mkdtemp(prefix="hp", dir="/tmp")
    other = tempfile.mkdtemp(prefix="ho", dir="/tmp")
    try:
        os.chmod(home, 0o700)
        os.mkdir(os.path.join(home, "agent"), 0o700)
        os.chown(other, NOBODY, NOBODY)
        theirs = os.path.join(other, "s")
        pid, rd = _fake_agent(theirs, NOBODY)
        os.rename(theirs, client.socket_path(home))  # the path is ours, the listener is not
        _assert_gets_nothing(home, pid, rd)
    finally:
        subprocess.run(["rm", "-rf", home, other], check=False)


def _sent_env(got: bytes) -> dict[bytes, bytes]:
    fields = wire.decode_fields(got[1:])
    assert len(fields) == 11, got[:200]
    return dict(e.split(b"=", 1) for e in wire.decode_fields(fields[10]))


def test_our_agent_gets_only_what_the_run_reads():
    """The environment is reduced to RUN_ENV; `version` never gets the vault key."""
    home = tempfile.mkdtemp(prefix="hv", dir="/tmp")
    try:
        os.chmod(home, 0o700)
        os.mkdir(os.path.join(home, "agent"), 0o700)
        extra = {"AWS_SECRET_ACCESS_KEY": UNRELATED, "HTTPS_PROXY": "http://127.0.0.1:9"}
        sent = {}
        for action in ("version", "get"):
            pid, rd = _fake_agent(client.socket_path(home), None)
            args = ("version",) if action == "version" else ("get", "bench")
            _run_helper(home, *args, extra=extra)
            got = _collected(pid, rd)
            os.unlink(client.socket_path(home))
            assert got.startswith(b"F") and len(got) > 1, got[:200]
            sent[action] = _sent_env(got)
        for env in sent.values():
            assert b"AWS_SECRET_ACCESS_KEY" not in env and UNRELATED.encode() not in b"".join(
                env.values()
            )
            assert env[b"AUTHSOME_HOME"] == home.encode() and b"HTTPS_PROXY" in env
            assert all(k in client.RUN_ENV or k.startswith(client.RUN_ENV_PREFIXES) for k in env)
        assert b"AUTHSOME_MASTER_KEY" not in sent["version"]
        assert sent["get"][b"AUTHSOME_MASTER_KEY"] == KEY.encode()  # `get` opens the vault
    finally:
        subprocess.run(["rm", "-rf", home], check=False)
