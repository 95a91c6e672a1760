"""`authsome run` through the warm agent: the client reaches the child's exec with little
Python, and each run keeps its own proxy process, CA, credential and port.

(Every run behaviour — clients, audit, environment, trust files, exit codes, signals,
cleanup — is tested in both modes by test_clients.py and test_lifecycle.py.)"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from proxy.conftest import API_HOST, authsome_run, resolve_args
from support.cli import tool
from support.local_services import children_of

PY = sys.executable
AGENT = pytest.mark.parametrize("run_mode", ["agent"], indirect=True)
SANDBOX = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("bwrap") is None,
    reason="--sandbox needs Linux and bubblewrap (.ci/run installs it)",
)

# The console script, and the modules it imported by the end (it leaves by os._exit
# once the agent's run is over: that is where the report goes).
SCRIPT = """
import os, sys
def report(code, _exit=os._exit):
    sys.stderr.write("MODULES " + " ".join(sys.modules) + "\\n")
    sys.stderr.flush()
    _exit(code)
os._exit = report
sys.argv[0] = "authsome"
from authsome.cli.main import main
sys.exit(main())
"""
HEAVY = {
    "argparse",
    "cryptography",
    "ssl",
    "subprocess",
    "threading",
    "signal",
    "authsome.proxy.runner",
    "authsome.vault.vault",
    "authsome.credentials",
}


@AGENT
def test_run_through_the_agent_starts_the_child_with_little_python(run_mode):
    res = subprocess.run(
        [PY, "-c", SCRIPT, "run", "--", "sh", "-c", 'test -n "$HTTPS_PROXY" && exit 5'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 5, res.stderr
    modules = set(res.stderr.rsplit("MODULES ", 1)[1].split())
    assert "authsome.agent.runclient" in modules  # it went to the agent
    assert modules & HEAVY == set()


WAIT = r"""
import os, sys, time
print(os.environ["HTTPS_PROXY"], os.path.dirname(os.environ["SSL_CERT_FILE"]), flush=True)
print(open(os.environ["NODE_EXTRA_CA_CERTS"]).read().replace("\n", "|"), flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


def connect_status(port: int, user: str, password: str) -> str:
    """The status line a CONNECT with this proxy credential gets on this port."""
    cred = base64.b64encode(f"{user}:{password}".encode()).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(
            f"CONNECT {API_HOST}:443 HTTP/1.1\r\nHost: {API_HOST}:443\r\n"
            f"Proxy-Authorization: Basic {cred}\r\n\r\n".encode()
        )
        return s.makefile("rb").readline().decode().strip()


def agent_children() -> list[int]:
    """Live processes whose parent is the warm agent: the runs' own processes (not the
    spare, the next run's process made ahead, which waits for a run)."""
    from authsome.agent import client

    home = os.environ["AUTHSOME_HOME"]
    before = client.control(home, "status")
    kids = children_of(int(before["pid"]))
    spares = {int(before["spare"]), int(client.control(home, "status")["spare"])}
    return [pid for pid in kids if pid not in spares]


@AGENT
def test_concurrent_runs_each_have_their_own_proxy_process_ca_and_credential(run_mode, tmp_path):
    go = tmp_path / "go"
    runs = [
        subprocess.Popen(
            [tool("authsome"), "run", "--", PY, "-c", WAIT, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        seen = []
        for run in runs:
            url, tmpdir = run.stdout.readline().split()
            ca = run.stdout.readline()
            seen.append((urlsplit(url), tmpdir, ca))
        (a, a_dir, a_ca), (b, b_dir, b_ca) = seen
        assert a.port != b.port and a.password != b.password and a_dir != b_dir
        assert a_ca != b_ca and "BEGIN CERTIFICATE" in a_ca
        assert len(agent_children()) == 2  # one process per run, beside the agent
        # a run's credential opens its own proxy only
        assert connect_status(a.port, a.username, a.password).startswith("HTTP/1.1 200")
        assert connect_status(b.port, a.username, a.password).startswith("HTTP/1.1 407")
        assert connect_status(a.port, b.username, b.password).startswith("HTTP/1.1 407")
    finally:
        go.touch()
        for run in runs:
            run.communicate(timeout=30)
    assert [run.returncode for run in runs] == [0, 0]
    assert not os.path.exists(a_dir) and not os.path.exists(b_dir)
    deadline = time.monotonic() + 10
    while agent_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert agent_children() == []  # each run's process ended with its run


@AGENT
@pytest.mark.parametrize("opts", [[], ["--sandbox"]], ids=["plain", "sandbox"])
def test_a_killed_client_ends_its_runs_process(run_mode, tmp_path, opts):
    if opts and shutil.which("bwrap") is None:
        pytest.skip("--sandbox needs bubblewrap (.ci/run installs it)")
    go = tmp_path / "go"  # the orphaned child's own way out, whatever happens
    run = subprocess.Popen(
        [tool("authsome"), "run", *opts, "--", PY, "-c", WAIT, str(go)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        tmpdir = run.stdout.readline().split()[1]
        run.stdout.readline()  # the CA: all the child says
        assert len(agent_children()) == 1
        run.kill()
        run.wait(timeout=30)
        if opts:  # bwrap dies with its parent, and the sandboxed child with it
            assert select.select([run.stdout], [], [], 10)[0], "the sandboxed child lives on"
            assert os.read(run.stdout.fileno(), 100) == b""  # no writer left
        deadline = time.monotonic() + 10
        while (agent_children() or os.path.exists(tmpdir)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent_children() == [] and not os.path.exists(tmpdir)
    finally:
        go.touch()
        run.kill()
        run.communicate(timeout=30)


@AGENT
def test_errors_before_the_child_are_the_same_as_in_process(run_mode):
    for args in (["--only", "nope", "--", "true"], [], ["--connection", "bad", "--", "true"]):
        here = authsome_run(*args, env=dict(os.environ, AUTHSOME_AGENT="0"))
        agent = authsome_run(*args)
        assert (agent.returncode, agent.stdout, agent.stderr) == (
            here.returncode,
            here.stdout,
            here.stderr,
        ), args
        assert agent.returncode in (2, 4) and "Traceback" not in agent.stderr


@SANDBOX
@AGENT
def test_a_sandboxed_run_goes_through_the_agent_as_in_process(run_mode, upstream):
    """The run's process plans the sandbox and holds its proxy; the client starts bwrap
    (its own child) in a network namespace it makes, and passes the listeners back:
    same output and exit code as in-process, and the client stays import-light."""
    from authsome.agent import client

    home = os.environ["AUTHSOME_HOME"]
    script = (
        "set -f; echo inside=$AUTHSOME_RUN; test -r /proc/1/environ && echo own-pid-namespace; "
        'ls -A "$AUTHSOME_HOME" | wc -l; grep -c : /proc/net/dev; '
        "for how in '' '--noproxy *'; do "  # through HTTPS_PROXY, then the direct listener
        "curl -sS $how -o /dev/null -w '%{http_code}\\n' https://$0:$1/echo; done; exit 3"
    )
    resolve = resolve_args(upstream.port, API_HOST)
    args = [*resolve, "--sandbox", "--", "sh", "-c", script, API_HOST, str(upstream.port)]
    here = authsome_run(*args, env=dict(os.environ, AUTHSOME_AGENT="0"))
    wait_for_spare(home)
    before = client.control(home, "status")
    agent = subprocess.run(
        [PY, "-c", SCRIPT, "run", *args], capture_output=True, text=True, timeout=60
    )
    after = client.control(home, "status")
    said, modules = agent.stderr.rsplit("MODULES ", 1)
    assert (agent.returncode, agent.stdout, said) == (here.returncode, here.stdout, here.stderr)
    assert agent.returncode == 3, agent.stderr
    assert agent.stdout == "inside=1\nown-pid-namespace\n0\n1\n200\n200\n"
    assert int(after["served"]) == int(before["served"]) + 1  # the agent served it
    assert "authsome.agent.runsandbox" in set(modules.split())
    assert set(modules.split()) & (HEAVY | {"socket", "ctypes", "typing"}) == set()


@AGENT
def test_the_child_gets_the_clients_whole_environment_as_in_process(run_mode, tmp_path):
    """The agent is sent only what a run reads; the child still gets everything else."""
    own_ca = tmp_path / "own-ca.pem"
    own_ca.write_text("-----BEGIN CERTIFICATE-----\nb3duLWNh\n-----END CERTIFICATE-----\n")
    show = (
        "import json, os; e = dict(os.environ); "
        "e['bundle'] = open(e['SSL_CERT_FILE']).read().count('b3duLWNh'); "
        "per_run = ('CERTS', 'CERT', 'BUNDLE', 'CAINFO', 'FILE', 'WGETRC'); "
        "[e.pop(k) for k in list(e) if 'PROXY' in k.upper() or k.endswith(per_run)]; "
        "e.pop('AUTHSOME_AGENT'); "
        "print(json.dumps(e, sort_keys=True))"
    )
    env = dict(os.environ, MY_APP_SETTING="kept", REQUESTS_CA_BUNDLE=str(own_ca))
    here = authsome_run("--", PY, "-c", show, env=dict(env, AUTHSOME_AGENT="0"))
    agent = authsome_run("--", PY, "-c", show, env=env)
    assert here.returncode == agent.returncode == 0, agent.stderr
    assert json.loads(agent.stdout) == json.loads(here.stdout)
    seen = json.loads(agent.stdout)
    assert seen["MY_APP_SETTING"] == "kept" and seen["bundle"] == 1
    assert "AUTHSOME_MASTER_KEY" not in seen and seen["AUTHSOME_RUN"] == "1"


def wait_for_spare(home: str) -> int:
    """The pid of the agent's next run's process, made ahead while it is idle."""
    from authsome.agent import client

    deadline = time.monotonic() + 20
    while True:
        status = client.control(home, "status")  # None until the agent listens
        if status is not None and int(status["spare"]):
            return int(status["spare"])
        assert time.monotonic() < deadline, "the agent made no process ahead"
        time.sleep(0.02)


@AGENT
def test_a_run_is_served_by_the_process_made_ahead_in_the_clients_place(run_mode, tmp_path):
    """The spare was forked before the request: it still runs in the client's working
    directory, puts the run's directory in the client's TMPDIR, and its proxy works."""
    from authsome.agent import client

    home = os.environ["AUTHSOME_HOME"]
    here, own_tmp, go = tmp_path / "here", tmp_path / "tmp", tmp_path / "go"
    here.mkdir()
    own_tmp.mkdir(mode=0o700)
    first = authsome_run(
        "--", "true"
    )  # the agent learns the data key: spares made from now on have it
    assert first.returncode == 0, first.stderr
    spare = wait_for_spare(home)
    before = int(client.control(home, "status")["runs_ahead"])
    show = "import os; print(os.getcwd(), flush=True); " + WAIT.split("\n", 1)[1]
    run = subprocess.Popen(
        [tool("authsome"), "run", "--", PY, "-c", show, str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=here,
        env=dict(os.environ, TMPDIR=str(own_tmp)),
    )
    try:
        cwd = run.stdout.readline().strip()
        url, run_dir = run.stdout.readline().split()
        assert cwd == str(here) and os.path.dirname(run_dir) == str(own_tmp)
        assert int(client.control(home, "status")["runs_ahead"]) == before + 1
        assert spare in agent_children()  # the spare became this run's process
        proxy = urlsplit(url)
        status = connect_status(proxy.port, proxy.username, proxy.password)
        assert status.startswith("HTTP/1.1 200")
    finally:
        go.touch()
        _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    assert list(own_tmp.iterdir()) == []


def ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("stop", ["stop", "SIGTERM", "SIGKILL"])
def test_the_process_made_ahead_ends_with_the_agent(stop):
    """It waits on its connection to the agent: however the agent ends, it ends."""
    import signal
    import tempfile

    from authsome.agent import client

    home = tempfile.mkdtemp(prefix="sp", dir="/tmp")  # AF_UNIX paths are short
    env = dict(os.environ, AUTHSOME_HOME=home, AUTHSOME_AGENT="1")
    agent = subprocess.Popen([PY, "-m", "authsome.agent"], env=env)
    try:
        spare = wait_for_spare(home)
        assert children_of(agent.pid) == [spare]
        if stop == "stop":
            client.control(home, "stop")
        else:
            agent.send_signal(getattr(signal, stop))
        agent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not ended(spare):
            assert time.monotonic() < deadline, "the spare outlived the agent"
            time.sleep(0.02)
    finally:
        agent.kill()
        agent.wait()
        subprocess.run(["rm", "-rf", home])


def test_runs_through_the_agent_ask_the_keyring_once():
    """A run's process is a fork: a data key it unwraps dies with it. The agent unwraps
    the key itself for the first run, so later runs are served from its cache: with the
    keyring item gone (as after it is locked), a run through the agent still opens the
    vault, one without the agent cannot (the documented trade-off of the agent)."""
    import tempfile

    import keyring

    from authsome.agent import client
    from authsome.vault.keys import KEYRING_SERVICE, keyring_username
    from support.providers import BENCH, write_definition

    home = tempfile.mkdtemp(prefix="kr", dir="/tmp")  # AF_UNIX paths are short
    env = dict(os.environ, AUTHSOME_HOME=home, AUTHSOME_AGENT="1")
    for name in ("AUTHSOME_MASTER_KEY", "AUTHSOME_PASSPHRASE", "AUTHSOME_VAULT_URL"):
        env.pop(name, None)  # the key is in the keyring
    write_definition(Path(home), BENCH)
    token = b'{"access_token": "tok-bench", "expires_in": 86400}'
    stored = subprocess.run(
        [tool("authsome-helper"), "store", "bench"],
        input=token,
        capture_output=True,
        env=dict(env, AUTHSOME_AGENT="0"),
    )
    assert stored.returncode == 0, stored.stderr
    check = ["--", "sh", "-c", 'test "$BENCH_TOKEN" = authsome-proxy-managed']
    try:
        subprocess.run([tool("authsome-helper"), "version"], env=env, capture_output=True)
        wait_for_spare(home)
        first = authsome_run(*check, env=env)
        assert first.returncode == 0, first.stderr
        keyring.delete_password(KEYRING_SERVICE, keyring_username(home))
        served = int(client.control(home, "status")["served"])
        again = authsome_run(*check, env=env)
        assert again.returncode == 0, again.stderr
        assert int(client.control(home, "status")["served"]) == served + 1
        alone = authsome_run(*check, env=dict(env, AUTHSOME_AGENT="0"))
        assert alone.returncode == 6 and "vault" in alone.stderr, alone.stderr
    finally:
        client.control(home, "stop")
        try:
            keyring.delete_password(KEYRING_SERVICE, keyring_username(home))
        except keyring.errors.PasswordDeleteError:
            pass
        subprocess.run(["rm", "-rf", home])
