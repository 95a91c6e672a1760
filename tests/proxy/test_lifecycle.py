"""The run itself: child environment, trust files, secrets, exit status, signals, cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509

from proxy.conftest import API_HOST, TOKEN, authsome_run
from support.cli import tool

# Each test twice: run in-process and through the warm agent (proxy.conftest.run_mode).
pytestmark = pytest.mark.usefixtures("run_mode")

PY = sys.executable

INSPECT = r"""
import json, os, sys
tmpdir = os.path.dirname(os.environ["SSL_CERT_FILE"])
files = {}
for root in (tmpdir, os.environ["TMPDIR"], os.environ["AUTHSOME_HOME"]):
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p):  # not the warm agent's socket
                files[p] = open(p, "rb").read().decode("latin-1")
cmdlines = [open(f"/proc/{pid}/cmdline", "rb").read().decode("latin-1")
            for pid in (os.getpid(), os.getppid())]
print(json.dumps({"env": dict(os.environ), "tmpdir": tmpdir, "files": files,
                  "tmpmode": oct(os.stat(tmpdir).st_mode & 0o777),
                  "listing": sorted(os.listdir(tmpdir)), "cmdlines": cmdlines}))
"""


def test_child_environment_and_secrets(vault, tmp_path, monkeypatch):
    private_tmp = tmp_path / "tmpdir"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.wgetrc: the run gives wget its own
    monkeypatch.delenv("WGETRC", raising=False)
    monkeypatch.setenv("NO_PROXY", "corp.internal,.example.org")
    monkeypatch.setenv("AUTHSOME_PASSPHRASE", "hunter2-passphrase")
    res = authsome_run("--", PY, "-c", INSPECT)
    assert res.returncode == 0, res.stderr
    seen = json.loads(res.stdout)
    env = seen["env"]
    assert "AUTHSOME_MASTER_KEY" not in env and "AUTHSOME_PASSPHRASE" not in env
    assert env["TESTAPI_TOKEN"] == "authsome-proxy-managed"
    assert env["NO_PROXY"] == "corp.internal,.example.org,localhost,127.0.0.1,::1"
    assert env["no_proxy"] == env["NO_PROXY"] and env["NODE_USE_ENV_PROXY"] == "1"
    proxy = env["HTTPS_PROXY"]
    assert proxy.startswith("http://authsome:") and proxy.split("@")[1].startswith("127.0.0.1:")
    assert {env[v] for v in ("HTTP_PROXY", "http_proxy", "https_proxy")} == {proxy}
    bundle = os.path.join(seen["tmpdir"], "bundle.pem")
    ca = os.path.join(seen["tmpdir"], "ca.pem")
    for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
        assert env[var] == bundle
    assert env["AWS_CA_BUNDLE"] == bundle
    assert env["NODE_EXTRA_CA_CERTS"] == ca and env["DENO_CERT"] == ca
    assert env["WGETRC"] == os.path.join(seen["tmpdir"], "wgetrc")
    assert seen["files"][env["WGETRC"]] == f"ca_certificate = {bundle}\n"
    # only public material in a private directory, gone after the run
    assert seen["listing"] == ["bundle.pem", "ca.pem", "wgetrc"] and seen["tmpmode"] == "0o700"
    assert not os.path.exists(seen["tmpdir"])
    ca_pem = seen["files"][ca]
    assert ca_pem.strip() and ca_pem.strip() in seen["files"][bundle]
    assert seen["files"][bundle].count("BEGIN CERTIFICATE") > 10  # system roots too
    # the token and any private key: nowhere the child can see
    everything = json.dumps(env) + "".join(seen["files"].values()) + "".join(seen["cmdlines"])
    assert TOKEN not in everything
    assert "PRIVATE KEY" not in "".join(
        v for k, v in seen["files"].items() if not k.startswith(str(vault))
    )
    assert TOKEN not in res.stderr and "hunter2" not in res.stdout
    assert list(private_tmp.iterdir()) == []  # nothing left behind in TMPDIR either


def test_ca_is_name_constrained(vault):
    script = "import os;print(open(os.environ['NODE_EXTRA_CA_CERTS']).read())"
    res = authsome_run("--", PY, "-c", script)
    assert res.returncode == 0, res.stderr
    cert = x509.load_pem_x509_certificate(res.stdout.encode())
    nc = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert [n.value for n in nc.value.permitted_subtrees] == [API_HOST]
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca


def test_exit_status_passthrough(vault, mode, tmp_path):
    assert authsome_run(*mode, "--", "sh", "-c", "exit 7").returncode == 7
    assert authsome_run(*mode, "--", "sh", "-c", "kill -9 $$").returncode == 137
    assert authsome_run(*mode, "--", "true").returncode == 0
    missing = authsome_run(*mode, "--", "no-such-command-xyz")
    assert missing.returncode == 127 and "not found" in missing.stderr
    not_runnable = tmp_path / "script"
    not_runnable.write_text("#!/bin/sh\n")  # no x bit
    denied = authsome_run(*mode, "--", str(not_runnable))
    assert denied.returncode == 126 and "permission denied" in denied.stderr, denied.stderr
    usage = authsome_run(*mode)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def _start(mode: list[str], *cmd: str) -> subprocess.Popen:
    return subprocess.Popen(
        [tool("authsome"), "run", *mode, "--", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


WAITER = r"""
import os, signal, sys, time
def on(signum, _):
    print("got", signal.Signals(signum).name, flush=True)
    sys.exit(3)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, on)
# os.write, not print: a signal handled while print still holds stdout's lock would
# make the handler's own print a reentrant call (a fast forwarder can be that quick)
os.write(1, (os.path.dirname(os.environ["SSL_CERT_FILE"]) + "\n").encode())
time.sleep(30)
"""


def test_signals_reach_the_child_and_cleanup(vault, mode):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        proc = _start(mode, PY, "-c", WAITER)
        tmpdir = proc.stdout.readline().strip()
        assert os.path.isdir(tmpdir)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 3, err
        assert out.strip() == f"got {sig.name}"
        assert not os.path.exists(tmpdir)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigterm_to_run_kills_default_child_and_cleans_up(vault, mode, sig):
    """A child that keeps the default action dies of the signal `run` forwards: 130, 143."""
    proc = _start(mode, "sh", "-c", 'dirname "$SSL_CERT_FILE"; exec sleep 30')
    tmpdir = proc.stdout.readline().strip()
    assert os.path.isdir(tmpdir)
    t = time.monotonic()
    proc.send_signal(sig)
    proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig
    assert time.monotonic() - t < 10
    assert not Path(tmpdir).exists()


def test_killed_child_cleans_up(vault, mode):
    proc = _start(mode, "sh", "-c", 'dirname "$SSL_CERT_FILE"; exec sleep 30')
    tmpdir = proc.stdout.readline().strip()
    child = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == proc.pid]
    assert len(child) == 1
    os.kill(child[0], signal.SIGKILL)
    proc.communicate(timeout=20)
    assert proc.returncode == 137
    assert not Path(tmpdir).exists()


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


SIGINT_COUNTER = r"""
import signal, time
# SIGINT blocked and taken with sigtimedwait: each one counts as soon as it arrives (a
# second one sent while the first is still pending would merge with it).
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
print("ready", flush=True)
count, end = 0, time.monotonic() + 2
while (left := end - time.monotonic()) > 0:
    if signal.sigtimedwait({signal.SIGINT}, left):
        count += 1
print("sigints", count, flush=True)
"""


def test_ctrl_c_in_a_terminal_reaches_the_child_once(vault, mode):
    """^C goes to the terminal's whole foreground group, `authsome run` and its child:
    run must not forward a second SIGINT (a Python child would see two interrupts)."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader on the pty, like a shell's job
        try:
            os.execv(
                tool("authsome"), [tool("authsome"), "run", *mode, "--", PY, "-c", SIGINT_COUNTER]
            )
        finally:
            os._exit(127)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while b"ready" not in out and time.monotonic() < deadline:
            out += os.read(fd, 1024)
        os.write(fd, b"\x03")  # ^C, as typed
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the pty's other side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert b"sigints 1\r\n" in out, out
    assert os.waitstatus_to_exitcode(status) == 0, out
