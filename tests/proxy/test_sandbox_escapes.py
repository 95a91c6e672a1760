"""`authsome run --sandbox`: roads out of the sandbox beyond the hostile child's list
(test_sandbox.py), each tried from inside with real bubblewrap.

All traffic is on loopback: the host services a child must not reach listen on the
host's loopback; the proxy must refuse before it connects.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from proxy.conftest import authsome_run
from support.local_services import HostService
from support.ordinary_user import runs_through

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("bwrap") is None,
    reason="needs Linux and bubblewrap (.ci/run installs it)",
)
# The runs go in-process and through the user's warm agent: there the run's process
# plans the sandbox and the client (the run's command's parent) starts it.
THROUGH = pytest.mark.parametrize("through", ["in-process", "agent"])


def user_env(user, home: Path) -> dict[str, str]:
    """The ordinary user's environment for a run: its own home, a fresh vault key, no agent."""
    return {
        "PATH": f"{user.bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AUTHSOME_HOME": str(home / "v"),
        "AUTHSOME_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "AUTHSOME_AGENT": "0",
    }


# Through the run's own proxy (HTTPS_PROXY inside): CONNECT and absolute-form http://
# to every spelling of this machine the child might try; prints each status line.
THROUGH_THE_PROXY = r"""
import os, socket, sys
from urllib.parse import urlsplit
proxy = urlsplit(os.environ["HTTPS_PROXY"])
auth = __import__("base64").b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
port = sys.argv[1]
def ask(head):
    with socket.create_connection((proxy.hostname, proxy.port), timeout=20) as s:
        s.sendall(head.encode() + f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        return s.recv(4096).split(b"\r\n")[0].decode()
for target in ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "127.0.0.2", "[::ffff:127.0.0.1]"]:
    print("CONNECT", target, ask(f"CONNECT {target}:{port} HTTP/1.1\r\nHost: {target}:{port}\r\n"))
for target in ["127.0.0.1", "localhost", "[::1]"]:
    print("GET", target, ask(f"GET http://{target}:{port}/ HTTP/1.1\r\nHost: {target}:{port}\r\n"))
"""


def test_the_proxy_is_no_road_to_the_hosts_loopback_services(vault, run_mode):
    """The proxy leaves from the host's network namespace: a CONNECT or http:// request
    to this machine would reach every service on the host's loopback. Refused (403)
    before any connection is made, unless --allow-host-port opened the port."""
    service = HostService()
    try:
        res = authsome_run(
            "--sandbox", "--", sys.executable, "-c", THROUGH_THE_PROXY, str(service.port)
        )
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert len(lines) == 9, lines
        for line in lines:
            assert line.split()[2:4] == ["HTTP/1.1", "403"], line
        assert service.accepted == 0

        opened = authsome_run(
            "--sandbox", "--allow-host-port", str(service.port), "--",
            sys.executable, "-c", THROUGH_THE_PROXY, str(service.port),
        )  # fmt: skip
        assert opened.returncode == 0, opened.stderr
        assert opened.stdout.splitlines()[0].split()[2:4] == ["HTTP/1.1", "200"], opened.stdout
        assert service.accepted >= 1
    finally:
        service.close()


# From inside: connect to each unix socket by path; then, if tmux is there, type a
# command into the user's tmux session outside (an escape if it runs).
SOCKETS_PROBE = r"""
import json, socket, subprocess, sys
out = {}
for name, path in json.loads(sys.argv[1]).items():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        out[name] = "connected"
    except OSError as exc:
        out[name] = type(exc).__name__
    finally:
        s.close()
if sys.argv[2]:
    res = subprocess.run(["tmux", "send-keys", "-t", "victim", sys.argv[2], "Enter"],
                         capture_output=True, text=True)
    out["tmux send-keys"] = f"rc={res.returncode} {res.stderr.strip()}"
print(json.dumps(out))
"""
OTHERS_GROUP = 48_213  # a supplementary group of the victim's that owns a socket (docker's)


def _unix_server(path: Path, uid: int, gid: int, mode: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen(8)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return sock


@THROUGH
def test_unix_sockets_outside_are_out_of_reach(ordinary_user, through):
    """Path sockets of the user's other programs are roads out: tmux (`send-keys` types
    into a shell outside), ssh ControlMaster, emacs/VS Code servers, gpg-agent, and
    sockets reachable through a supplementary group (docker's is root), or open to all
    (a local database, resolved's DNS). An unprivileged sandbox cannot drop the groups,
    so each socket it can connect to is covered; tmux's directory too."""
    user = ordinary_user
    base = Path(tempfile.mkdtemp(dir=user.base))
    os.chown(base, user.uid, user.gid)
    home = base / "home"
    home.mkdir(mode=0o700)
    os.chown(home, user.uid, user.gid)
    paths = {"user's own service": base / "app.sock", "public service": base / "public.sock"}
    paths["ssh agent"] = base / "agent.sock"  # kept on purpose: git and ssh over the proxy
    servers = [
        _unix_server(paths["ssh agent"], user.uid, user.gid, 0o600),
        _unix_server(paths["user's own service"], user.uid, user.gid, 0o600),
        _unix_server(paths["public service"], 0, 0, 0o666) if os.getuid() == 0 else None,
    ]
    groups: list[int] = []
    if os.getuid() == 0:  # a socket only a supplementary group reaches, as docker's
        paths["group's service"] = base / "group.sock"
        servers.append(_unix_server(paths["group's service"], 0, OTHERS_GROUP, 0o660))
        groups = [OTHERS_GROUP]
    env = {
        **user_env(user, home),
        "USER": user.name,
        "TMUX_TMPDIR": str(base),  # the tmux server's socket: base/tmux-UID/default
        "SSH_AUTH_SOCK": str(paths["ssh agent"]),
    }
    as_user = {} if os.getuid() == user.uid else {
        "user": user.uid, "group": user.gid, "extra_groups": groups,
    }  # fmt: skip
    tmux = shutil.which("tmux")
    marker = base / "escaped"
    if tmux:
        subprocess.run([tmux, "new-session", "-d", "-s", "victim", "sh"], env=env, check=True,
                       **as_user)  # fmt: skip
    try:
        names = {k: str(v) for k, v in paths.items()}
        outside = subprocess.run(
            [user.python, "-c", SOCKETS_PROBE, json.dumps(names), ""],
            env=env, capture_output=True, text=True, timeout=60, **as_user,
        )  # fmt: skip
        assert set(json.loads(outside.stdout).values()) == {"connected"}, outside.stdout
        with runs_through(user, env, through) as run_env:  # an agent without the group
            res = subprocess.run(
                [os.path.join(user.bin, "authsome"), "run", "--sandbox", "--", user.python,
                 "-c", SOCKETS_PROBE, json.dumps(names), f"touch {marker}" if tmux else ""],
                env=run_env, capture_output=True, text=True, timeout=60, cwd=str(base),
                **as_user,
            )  # fmt: skip
        assert res.returncode == 0, res.stderr
        seen = json.loads(res.stdout)
        time.sleep(0.5)  # a command typed into the tmux shell would have run by now
    finally:
        if tmux:
            subprocess.run([tmux, "kill-server"], env=env, capture_output=True, **as_user)
        for s in servers:
            if s is not None:
                s.close()
    assert not marker.exists(), "a command typed through tmux ran outside the sandbox"
    assert seen.pop("ssh agent") == "connected", seen
    for name in paths.keys() - {"ssh agent"}:
        assert seen[name] == "ConnectionRefusedError", (name, seen)
    if tmux:
        assert seen["tmux send-keys"].startswith("rc=1"), seen


# From inside, on a terminal: push keystrokes into it (TIOCSTI: what is pushed is read
# by your shell once the run ends), take its foreground, open /dev/tty; signal `run`
# (the proxy) by its pid outside; list the fds it was given.
TERMINAL_PROBE = r"""
import fcntl, json, os, signal, sys, termios
signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # tcsetpgrp from the background: no stop
def tried(fn):
    try:
        return f"ok {fn()!r}"
    except OSError as exc:
        return type(exc).__name__
out = {
    "TIOCSTI": tried(lambda: fcntl.ioctl(0, termios.TIOCSTI, b"#")),
    "tcsetpgrp": tried(lambda: os.tcsetpgrp(0, os.getpgrp())),
    "/dev/tty": tried(lambda: os.close(os.open("/dev/tty", os.O_RDWR))),
    "kill run": tried(lambda: os.kill(int(sys.argv[1]), 0)),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "no_new_privs": open("/proc/self/status").read().count("NoNewPrivs:\t1"),  # no sudo
}
print("PROBE " + json.dumps(out), flush=True)
"""


def _on_a_terminal(user, argv: list[str], env: dict[str, str]) -> dict:
    """`argv` as the user with a pty as its controlling terminal; the probe's answer."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = user.popen(argv, env, stdin=slave, stdout=slave, stderr=slave,
                       start_new_session=True, preexec_fn=take_terminal)  # fmt: skip
    os.close(slave)
    out, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        if not select.select([master], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the last holder of the terminal is gone
            break
        if not chunk:
            break
        out += chunk
    child.kill()  # (gone already, unless it hung)
    child.wait(timeout=60)
    os.close(master)
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if "PROBE " in x), None)  # after any echo
    assert line is not None, text
    return json.loads(line.partition("PROBE ")[2])


@THROUGH
def test_the_terminal_and_processes_outside_are_out_of_reach(ordinary_user, through):
    """TIOCSTI would type into your shell after the run; the sandbox's child has no
    controlling terminal (bwrap --new-session) and sees no process outside. The same
    probe without --sandbox shows each road open (so the test can fail)."""
    user = ordinary_user
    base = Path(tempfile.mkdtemp(dir=user.base))
    os.chown(base, user.uid, user.gid)
    env = user_env(user, base)
    authsome = os.path.join(user.bin, "authsome")
    script = f'exec {authsome} run "$@" -- {user.python} -c "$0" $$'
    with runs_through(user, env, through) as run_env:
        plain = _on_a_terminal(user, ["sh", "-c", script, TERMINAL_PROBE], run_env)
        if not plain["TIOCSTI"].startswith("ok"):
            pytest.skip(f"this kernel refuses TIOCSTI to everyone ({plain['TIOCSTI']})")
        assert plain["kill run"].startswith("ok"), plain
        boxed = _on_a_terminal(user, ["sh", "-c", script, TERMINAL_PROBE, "--sandbox"], run_env)
    assert boxed["TIOCSTI"] == "PermissionError", boxed
    assert boxed["tcsetpgrp"] == "OSError", boxed  # ENOTTY: not its terminal
    assert boxed["/dev/tty"] == "OSError", boxed  # ENXIO: no controlling terminal
    assert boxed["kill run"] == "ProcessLookupError", boxed
    assert boxed["fds"] == [0, 1, 2, 3], boxed  # 3: the listing itself; nothing of run's
    assert boxed["no_new_privs"] == 1, boxed  # setuid (a cached sudo ticket) gives nothing


KEYCTL_NR = {"x86_64": (248, 250), "aarch64": (217, 219), "riscv64": (217, 219)}  # add_key, keyctl
# As the user: a session keyring of its own holding a key (as Kerberos or a keyctl-backed
# credential store would), then exec argv[1:] (authsome run ...) in that session.
KEYRING_SETUP = r"""
import ctypes, os, sys
c = ctypes.CDLL(None, use_errno=True)
add_key, keyctl = int(sys.argv[1]), int(sys.argv[2])
if c.syscall(keyctl, 1, None) < 0 or c.syscall(add_key, b"user", b"authsome-test-secret",
                                                 b"s3cret", 6, -3) < 0:  # join; add to @s
    print(f"keyctl refused: {os.strerror(ctypes.get_errno())}", flush=True)
    sys.exit(0)
os.execv(sys.argv[3], sys.argv[3:])
"""
KEYRING_PROBE = r"""
import ctypes, sys
c = ctypes.CDLL(None, use_errno=True)
serial = c.syscall(int(sys.argv[1]), 10, -3, b"user", b"authsome-test-secret", 0)  # SEARCH @s
print("found" if serial > 0 else "not found")
"""


@THROUGH
def test_the_session_keyring_stays_outside(ordinary_user, through):
    """The kernel's session keyring is inherited through bwrap: the child found a key
    the user's session held. It gets a new, empty one."""
    user = ordinary_user
    numbers = KEYCTL_NR.get(os.uname().machine)
    if numbers is None:
        pytest.skip(f"no keyctl syscall numbers for {os.uname().machine}")
    base = Path(tempfile.mkdtemp(dir=user.base))
    os.chown(base, user.uid, user.gid)
    env = user_env(user, base)
    seen = []
    with runs_through(user, env, through) as run_env:
        for mode in ([], ["--sandbox"]):
            argv = [user.python, "-c", KEYRING_SETUP, *map(str, numbers),
                    os.path.join(user.bin, "authsome"), "run", *mode, "--",
                    user.python, "-c", KEYRING_PROBE, str(numbers[1])]  # fmt: skip
            res = user.run(argv, run_env, capture_output=True, text=True, timeout=60,
                           cwd=str(base))  # fmt: skip
            assert res.returncode == 0, res.stderr
            if res.stdout.startswith("keyctl refused"):
                pytest.skip(res.stdout.strip())
            seen.append(res.stdout.strip())
    assert seen == ["found", "not found"]  # without the sandbox the key is there
