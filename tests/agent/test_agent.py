"""The warm agent changes speed only: the same bytes, exit codes and freshness as without.

Every comparison runs the real console scripts twice, with AUTHSOME_AGENT=0 and through
a warm agent, and checks the agent really served the second run (its run counter).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from authsome.agent import client, server, wire
from support.providers import BENCH

from .conftest import wait_gone

OFF = {"AUTHSOME_AGENT": "0"}
EXEC_INFO = '{"apiVersion": "client.authentication.k8s.io/v1", "spec": {"interactive": false}}'

# (tool, args, stdin, extra env)
MATRIX = [
    ("authsome-helper", ["get", "bench"], b"", {}),
    ("authsome-helper", ["get", "bench", "--connection", "work"], b"", {}),
    ("authsome-helper", ["get", "nope"], b"", {}),
    ("authsome-helper", ["get", "github"], b"", {}),
    ("authsome-helper", ["get"], b'{"provider": "bench"}', {}),
    ("authsome-helper", ["get"], b"{bad json", {}),
    ("authsome-helper", ["get", "expired"], b"", {}),
    ("authsome-helper", ["list"], b"", {}),
    ("authsome-helper", ["version"], b"", {}),
    ("authsome-helper", ["headers"], b'{"uri": "https://api.bench.test/x"}', {}),
    ("authsome-helper", ["headers"], b'{"uri": "https://elsewhere.test/"}', {}),
    ("authsome-helper", ["headers"], b"[]", {}),
    ("authsome-helper", ["k8s", "bench"], b"", {"KUBERNETES_EXEC_INFO": EXEC_INFO}),
    ("authsome-helper", ["k8s", "bench"], b"", {"KUBERNETES_EXEC_INFO": "{nope"}),
    ("authsome-helper", ["k8s"], b"", {}),
    ("authsome-helper", ["k8s", "nope"], b"", {}),
    ("git-credential-authsome", ["get"], b"protocol=https\nhost=git.bench.test\n\n", {}),
    ("git-credential-authsome", ["get"], b"protocol=https\nhost=other.test\n\n", {}),
    ("git-credential-authsome", ["-c", "work", "get"], b"protocol=https\nhost=x.test\n\n", {}),
    ("git-credential-authsome", ["get"], b"garbage line\n\n", {}),
    ("docker-credential-authsome", ["get"], b"registry.bench.test", {}),
    ("docker-credential-authsome", ["get"], b"unknown.registry.test", {}),
    ("docker-credential-authsome", ["list"], b"", {}),
    ("docker-credential-authsome", ["version"], b"", {}),
]


def normal(out: bytes) -> bytes:
    # Seconds left tick between the two runs; everything else must be byte-identical.
    out = re.sub(rb'"expires_in": \d+', b'"expires_in": N', out)
    return re.sub(rb"^expires_in( +)\d+$", rb"expires_in\1N", out, flags=re.M)


def outcome(r) -> tuple[int, bytes, bytes]:
    return r.returncode, normal(r.stdout), normal(r.stderr)


def seed(
    home,
    provider: str = "bench",
    token: bytes = b'{"access_token": "tok-bench", "expires_in": 86400}',
) -> None:
    ok = home.run("authsome-helper", "store", provider, input=token, env=OFF)
    assert ok.returncode == 0, ok.stderr


def served(home) -> int:
    return int(home.wait_agent()["served"])


def test_same_answers_with_and_without_the_agent(agent_home):
    seed(agent_home)
    # An expired token with nothing to refresh it: the provider is custom, like bench.

    with open(os.path.join(agent_home.path, "providers", "expired.json"), "w") as f:
        json.dump(dict(BENCH, name="expired", git_hosts=[], docker_registries=[]), f)
    seed(agent_home, "expired", b'{"access_token": "old", "expires_in": -100}')
    agent_home.start_agent()
    before = served(agent_home)
    for name, args, stdin, env in MATRIX:
        without = agent_home.run(name, *args, input=stdin, env=dict(env, **OFF))
        with_agent = agent_home.run(name, *args, input=stdin, env=env)
        assert outcome(with_agent) == outcome(without), (name, args)
    assert served(agent_home) - before == len(MATRIX)
    codes = {tuple(a): agent_home.run(n, *a, input=s, env=e).returncode for n, a, s, e in MATRIX}
    assert codes[("get", "nope")] == 4
    assert codes[("get", "github")] == 3
    assert codes[("get", "expired")] == 5


def test_agent_answers_shopify_in_its_own_header(agent_home):
    body = b'{"access_token": "shpat_agent1", "expires_in": 86400}'
    stored = agent_home.run("authsome-helper", "store", "shopify", input=body, env=OFF)
    assert stored.returncode == 0, stored.stderr
    without = agent_home.run("authsome-helper", "get", "shopify", env=OFF)
    agent_home.start_agent()
    before = served(agent_home)
    with_agent = agent_home.run("authsome-helper", "get", "shopify")
    assert served(agent_home) - before == 1
    assert outcome(with_agent) == outcome(without)
    assert json.loads(with_agent.stdout)["headers"] == {"X-Shopify-Access-Token": "shpat_agent1"}


def test_not_routed_runs_do_not_reach_the_agent(agent_home):
    seed(agent_home)
    agent_home.start_agent()
    before = served(agent_home)
    for args in (["get", "bench", "extra"], ["store", "bench"], ["--help"], ["get", "--bogus"]):
        without = agent_home.run("authsome-helper", *args, input=b"{}", env=OFF)
        with_agent = agent_home.run("authsome-helper", *args, input=b"{}")
        assert outcome(with_agent) == outcome(without)
    assert served(agent_home) == before


# `authsome get` and `authsome list` read only: a warm agent serves them too.
CLI_MATRIX = [
    ["get", "bench", "--field", "status"],
    ["get", "bench"],
    ["get", "bench", "--json"],
    ["get", "bench", "--field", "access_token"],
    ["get", "bench", "--show-secret", "-c", "default"],
    ["get", "bench", "--connection", "work"],
    ["get", "nope"],
    ["get", "bench", "--field", "refresh_token"],
    ["get", "--bogus"],
    ["list"],
    ["list", "--json"],
    ["list", "--connected"],
]


def test_cli_reads_answer_the_same_through_the_agent(agent_home):
    seed(agent_home)
    agent_home.start_agent()
    before = served(agent_home)
    for args in CLI_MATRIX:
        without = agent_home.run("authsome", *args, env=OFF)
        with_agent = agent_home.run("authsome", *args)
        assert outcome(with_agent) == outcome(without), args
    assert served(agent_home) - before == len(CLI_MATRIX)
    status = agent_home.run("authsome", "get", "bench", "--field", "status")
    assert (status.returncode, status.stdout) == (0, b"connected\n")
    assert agent_home.run("authsome", "get", "nope").returncode == 4


def test_unknown_key_warnings_come_through_the_agent_as_without(agent_home):
    """A user file's unknown key is said once on stderr by `get` and `run` served by the
    agent, exactly as in-process; stdout is unchanged."""
    seed(agent_home)
    path = os.path.join(agent_home.path, "providers", "bench.json")
    with open(path, "w") as f:
        json.dump(dict(BENCH, display_nam="typo"), f)
    agent_home.start_agent()
    before = served(agent_home)
    line = f"{path}: unknown key 'display_nam' (did you mean 'display_name'?)".encode()
    for args in (
        ["get", "bench", "--field", "status"],
        ["run", "--only", "bench", "--", "sh", "-c", "echo child ran"],
    ):
        without = agent_home.run("authsome", *args, env=OFF)
        with_agent = agent_home.run("authsome", *args)
        assert outcome(with_agent) == outcome(without), args
        assert with_agent.returncode == 0 and with_agent.stderr.count(line) == 1, args
        assert with_agent.stdout in (b"connected\n", b"child ran\n")
    assert served(agent_home) - before == 2


def test_cli_help_and_other_commands_stay_in_process(agent_home):
    seed(agent_home)
    agent_home.start_agent()
    before = served(agent_home)
    for args in (["get", "--help"], ["list", "--he"], ["--version"], ["inspect", "bench"]):
        without = agent_home.run("authsome", *args, env=OFF)
        with_agent = agent_home.run("authsome", *args)
        assert outcome(with_agent) == outcome(without), args
    assert served(agent_home) == before


def test_agent_list_sees_a_changed_provider_file_at_once(agent_home):
    seed(agent_home)
    agent_home.start_agent()
    path = os.path.join(agent_home.path, "providers", "bench.json")
    before = served(agent_home)
    for display in ("First Name", "Second Name"):
        with open(path, "w") as f:
            json.dump(dict(BENCH, display_name=display), f)
        listed = agent_home.run("authsome", "list", "--json")
        assert {p["name"]: p["display_name"] for p in json.loads(listed.stdout)}["bench"] == display
    with open(path, "w") as f:
        f.write("{broken")
    listed = agent_home.run("authsome", "list")
    assert b"skipping a broken provider file" in listed.stderr
    assert b"not valid JSON" in listed.stderr
    assert served(agent_home) - before == 3
    assert outcome(listed) == outcome(agent_home.run("authsome", "list", env=OFF))


def test_store_and_erase_are_seen_at_once(agent_home):
    agent_home.start_agent()
    assert agent_home.run("authsome-helper", "get", "bench").returncode == 3
    stored = agent_home.run(
        "authsome-helper", "store", "bench", input=b'{"access_token": "fresh-1"}'
    )
    assert stored.returncode == 0
    assert b'"access_token": "fresh-1"' in agent_home.run("authsome-helper", "get", "bench").stdout
    agent_home.run("authsome-helper", "store", "bench", input=b'{"access_token": "fresh-2"}')
    r = agent_home.run(
        "git-credential-authsome", "get", input=b"protocol=https\nhost=git.bench.test\n\n"
    )
    assert b"password=fresh-2" in r.stdout
    erased = agent_home.run("authsome-helper", "erase", "bench", input=b'{"revoke": false}')
    assert erased.returncode == 0, erased.stderr
    assert agent_home.run("authsome-helper", "get", "bench").returncode == 3
    assert int(agent_home.status()["served"]) >= 4


def test_another_master_key_is_refused_exactly_as_without(agent_home):
    seed(agent_home)
    agent_home.start_agent()
    assert agent_home.run("authsome-helper", "get", "bench").returncode == 0  # key now cached
    other = {"AUTHSOME_MASTER_KEY": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="}
    before = served(agent_home)
    for name, args, stdin in (
        ("authsome-helper", ["get", "bench"], b""),
        ("git-credential-authsome", ["get"], b"protocol=https\nhost=git.bench.test\n\n"),
        ("docker-credential-authsome", ["get"], b"registry.bench.test"),
    ):
        without = agent_home.run(name, *args, input=stdin, env=dict(other, **OFF))
        with_agent = agent_home.run(name, *args, input=stdin, env=other)
        assert outcome(with_agent) == outcome(without)
        assert with_agent.returncode == 6
    assert (
        b"vault_unavailable" in agent_home.run("authsome-helper", "get", "bench", env=other).stdout
    )
    assert served(agent_home) - before == 4


def test_agent_off_spawns_nothing(agent_home):
    seed(agent_home)
    for _ in range(3):
        assert agent_home.run("authsome-helper", "get", "bench", env=OFF).returncode == 0
    time.sleep(0.5)
    assert not os.path.exists(os.path.join(agent_home.path, "agent"))
    assert agent_home.status() is None


def test_killed_agent_leaves_a_socket_the_next_run_replaces(agent_home):
    seed(agent_home)
    pid = int(agent_home.start_agent()["pid"])
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    assert os.path.exists(client.socket_path(agent_home.path))  # stale socket file
    r = agent_home.run("authsome-helper", "get", "bench")  # refused: runs in-process
    assert r.returncode == 0 and b"tok-bench" in r.stdout
    assert int(agent_home.wait_agent()["pid"]) != pid


def test_the_socket_appears_only_once_the_agent_listens(agent_home):
    """The agent warms up (imports, a throwaway CA) before it serves. Its socket must not
    be there meanwhile: a client would connect and be refused (it would start yet another
    agent) or wait on a backlog nobody reads."""
    path = client.socket_path(agent_home.path)
    agent = subprocess.Popen([sys.executable, "-m", "authsome.agent"], env=agent_home.env)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(path):
            assert time.monotonic() < deadline and agent.poll() is None, "no socket came"
            time.sleep(0.001)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(path)  # ConnectionRefusedError if it is not listening yet
            s.sendall(wire.frame([wire.MAGIC, b"", b"status"]))
            assert s.recv(1) == wire.ACCEPTED  # and it answers at once
    finally:
        client.control(agent_home.path, "stop")  # our child: reaped by wait, not polled
        agent.wait(timeout=30)


def test_idle_agent_exits(agent_home):
    agent_home.env["AUTHSOME_AGENT_TIMEOUT"] = "1"
    pid = int(agent_home.start_agent()["pid"])
    assert wait_gone(pid, timeout=15)
    assert not os.path.exists(client.socket_path(agent_home.path))


def test_no_secret_in_the_agents_argv_or_environment(agent_home):
    seed(agent_home)
    pid = int(agent_home.start_agent()["pid"])
    assert agent_home.run("authsome-helper", "get", "bench").returncode == 0
    key = agent_home.env["AUTHSOME_MASTER_KEY"].encode()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read()
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = f.read()
    assert key not in cmdline and b"tok-bench" not in cmdline
    assert key not in environ and b"AUTHSOME_MASTER_KEY" not in environ
    assert b"tok-bench" not in environ
    st = os.stat(client.socket_path(agent_home.path))
    assert st.st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(client.socket_path(agent_home.path))).st_mode & 0o777 == 0o700


def _ask(path: str, fields: list[bytes]) -> bytes:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    with s:
        s.sendall(wire.frame(fields))
        return s.recv(1)


def test_version_skew_and_garbage_are_refused(agent_home):
    agent_home.start_agent()
    path = client.socket_path(agent_home.path)
    fields = client.request_fields("helper", ["version"], b"")
    assert _ask(path, [fields[0], b"authsome 0.0.0", *fields[2:]]) == b"-"
    assert _ask(path, [b"other-protocol/9\n", *fields[1:]]) == b"-"
    assert _ask(path, fields) == wire.ACCEPTED
    assert agent_home.status() is not None  # still serving


def test_peer_uid_is_our_uid():
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert server.peer_uid(a) == os.getuid()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_another_user_is_not_served(agent_home):
    agent_home.start_agent()
    path = client.socket_path(agent_home.path)
    # Open the file permissions, so that only SO_PEERCRED stands in the way.
    os.chmod(agent_home.path, 0o711)
    os.chmod(os.path.dirname(path), 0o711)
    os.chmod(path, 0o666)
    fields = client.request_fields("helper", ["version"], b"")
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rd)
            os.setgid(65534)
            os.setuid(65534)
            answer = _ask(path, fields)
            os.write(wr, b"empty" if answer == b"" else b"answered")
        except Exception as exc:
            os.write(wr, type(exc).__name__.encode())
        finally:
            os._exit(0)
    os.close(wr)
    os.waitpid(pid, 0)
    with os.fdopen(rd, "rb") as f:
        result = f.read()
    assert result in (b"empty", b"ConnectionResetError", b"BrokenPipeError"), result
    assert _ask(path, fields) == wire.ACCEPTED  # the owner still is
