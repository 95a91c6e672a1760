"""`authsome run --sandbox` (SPEC §6.11) against a hostile child, with real bubblewrap.

Victim and attacker run as an ordinary user (root reads any /proc file, so a test as
root would prove nothing): a D-Bus session with an unlocked gnome-keyring holding the
vault key, the key also in the run's environment (AUTHSOME_MASTER_KEY), a token in the
vault; then `authsome run --sandbox` starts tests/proxy/hostile_child.py, which tries
every road it knows of and prints what it saw. All traffic is on loopback.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from proxy.conftest import API_HOST, TOKEN, authsome_run, resolve_args
from proxy.upstream import Upstream
from support.cli import tool
from support.local_services import HostService
from support.ordinary_user import OrdinaryUser
from support.providers import write_oauth_provider

HOSTILE = Path(__file__).with_name("hostile_child.py")
KEYRING_PASSWORD = "authsome-sbx"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("bwrap") is None,
    reason="needs Linux and bubblewrap (.ci/run installs it)",
)


def secret_forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            quote(secret, safe=""), raw.hex()]  # fmt: skip


def victim_env(user: OrdinaryUser, home: Path, key: str, ca: Path) -> dict[str, str]:
    return {
        "PATH": f"{user.bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": user.name,
        "LANG": "C.UTF-8",
        "AUTHSOME_HOME": str(home / "v"),
        "AUTHSOME_MASTER_KEY": key,
        "AUTHSOME_CA_BUNDLE": str(ca),
        "AUTHSOME_AGENT": "1",  # the warm agent listens, holding the key, during the run
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "XDG_DATA_HOME": str(home / "data"),
        "NO_COLOR": "1",
    }


@pytest.mark.parametrize("through", ["agent", "in-process"])
def test_hostile_child_finds_no_secret_and_the_api_still_works(
    ordinary_user, pki, tmp_path, through
):
    """The run through the warm agent (its process plans the sandbox and holds the
    proxy; `run`, the client, starts bwrap), and in-process (AUTHSOME_AGENT=0 for the
    run alone: the agent listens all the same)."""
    user = ordinary_user
    base = Path(tempfile.mkdtemp(dir=user.base))  # short: the agent's socket path must fit
    os.chown(base, user.uid, user.gid)
    home = base / "home"
    for d in (home, home / "runtime", home / "data", home / ".authsome"):
        d.mkdir(mode=0o700)
        os.chown(d, user.uid, user.gid)
    ca = base / "upstream-ca.pem"
    shutil.copy(pki["ca"], ca)
    ca.chmod(0o644)
    key = base64.b64encode(os.urandom(32)).decode()
    env = victim_env(user, home, key, ca)
    vault_home = Path(env["AUTHSOME_HOME"])
    write_oauth_provider(vault_home, "testapi", [API_HOST])
    (home / ".authsome" / "master.key").write_text(key)  # a decoy in the default home
    (home / "runtime" / "decoy").write_text(key)  # what sockets there would lead to
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), user.uid, user.gid)
    token_json = json.dumps({"access_token": TOKEN, "refresh_token": "rt-" + TOKEN,
                             "expires_in": 3600})  # fmt: skip
    (base / "token.json").write_text(token_json)
    os.chown(base / "token.json", user.uid, user.gid)
    other = HostService()
    with Upstream(pki) as upstream:
        known = {
            "home": env["AUTHSOME_HOME"],
            "runtime": env["XDG_RUNTIME_DIR"],
            "api_host": API_HOST,
            "api_port": upstream.port,
            "upstream_port": upstream.port,
            "other_port": other.port,
            "node": shutil.which("node"),
            "java": shutil.which("java"),
        }
        # The driver (as the user): keyring up and holding the key, the token stored, the
        # warm agent listening; then `authsome run --sandbox` in a shell that execs it,
        # so that shell's $$ is the proxy's pid; the agent is stopped at the end.
        driver = (
            'echo -n "$0" | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n'
            "python -c \"import keyring,os; keyring.set_password('authsome', "
            "'master-key:'+os.environ['AUTHSOME_HOME'], os.environ['AUTHSOME_MASTER_KEY'])\"\n"
            "python -c \"import keyring,os; assert keyring.get_password('authsome', "
            "'master-key:'+os.environ['AUTHSOME_HOME'])\" && echo 'keyring holds the key' >&2\n"
            'authsome-helper store testapi < "$1" || exit 90\n'
            "python -m authsome.agent >/dev/null 2>&1 &\n"
            "n=0; while ! authsome agent status >/dev/null 2>&1 && [ $n -lt 400 ]; do\n"
            "  sleep 0.05; n=$((n+1)); done\n"  # it answers (not only its socket exists)
            '[ -S "$AUTHSOME_HOME/agent/agent.sock" ] && echo "agent listening" >&2\n'
            "sh -c 'known=$(python -c \"import json,os,sys; k=json.loads(sys.argv[1]); "
            'k[\\"proxy_pid\\"]=int(sys.argv[2]); '
            'k[\\"bus\\"]=os.environ[\\"DBUS_SESSION_BUS_ADDRESS\\"]; '
            'print(json.dumps(k))" "$1" $$)\n'
            f"exec env AUTHSOME_AGENT={int(through == 'agent')} "
            f"authsome run --sandbox --resolve {API_HOST}:{upstream.port}:127.0.0.1 "
            f'-- python {HOSTILE} "$known"\' sh "$2" &\n'
            "wait $!; rc=$?\n"
            "authsome agent status >&2\n"
            "authsome agent stop >/dev/null 2>&1\n"
            "exit $rc\n"
        )
        env["PATH"] = f"{os.path.dirname(user.python)}:{env['PATH']}"
        res = user.run(
            ["dbus-run-session", "--", "sh", "-c", driver, KEYRING_PASSWORD,
             str(base / "token.json"), json.dumps(known)],
            env, capture_output=True, text=True, timeout=180, cwd=str(base),
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        seen = json.loads(res.stdout.strip().splitlines()[-1])
        auths = [
            v for r in upstream.requests for k, v in r["headers"] if k.lower() == "authorization"
        ]
    other.sock.close()

    failed_roads = {n: a["saw"][:300] for n, a in seen["attempts"].items() if a["ok"]}
    assert failed_roads == {}, failed_roads
    assert len(seen["attempts"]) == 22
    assert "agent listening" in res.stderr  # so the agent-socket road had a live end
    served = "1 requests served" if through == "agent" else "0 requests served"
    assert served in res.stderr  # the run went through the agent, or not
    assert "keyring holds the key" in res.stderr  # and the keyring road a full one
    assert other.accepted == 0  # the host's loopback is out of reach
    # (the test upstream's /echo reflects the request headers back: the API answers
    # are left out, the child using the API while it runs is not what this guards)
    everything = "".join(seen["everything"]) + res.stderr
    for secret in (TOKEN, "rt-" + TOKEN, key, KEYRING_PASSWORD):
        for form in secret_forms(secret):
            assert form not in everything, f"a secret showed up ({form[:6]}...)"
    # the roads failed for the right reasons (spot checks of what it saw)
    saw = {n: a["saw"] for n, a in seen["attempts"].items()}
    assert "['lo']" in saw["network interfaces and routes"]
    assert "pids=[1, 2" in saw["/proc/*/environ and mem"]
    assert "Connection refused" in saw["TCP to another host loopback server"]
    assert "No such file" in saw["agent socket"] and "refused" in saw["session bus socket"]
    # and the API works, with the token injected, for each client
    for name, text in seen["requests"].items():
        assert '"path": "/echo"' in text, (name, text)
    assert auths == [f"Bearer {TOKEN}"] * len(seen["requests"])
    assert len(seen["requests"]) == 2 + bool(known["node"]) + bool(known["java"])


def test_without_bwrap_sandbox_stops_before_the_command(vault, tmp_path, run_mode):
    """Never a silent unsandboxed run: exit 2, one line with the fix, CMD not started."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sh", "touch"):
        (bin_dir / name).symlink_to(shutil.which(name))
    marker = tmp_path / "ran"
    env = {**os.environ, "PATH": str(bin_dir)}
    res = authsome_run("--sandbox", "--", "touch", str(marker), env=env)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "apt install bubblewrap" in res.stderr
    assert not marker.exists()


def test_config_makes_the_sandbox_the_default(vault, run_mode):
    (vault / "config").write_text("[run]\nsandbox = true\n")
    ours = os.readlink("/proc/self/ns/net")
    inside = authsome_run("--", "readlink", "/proc/self/ns/net")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.strip() != ours  # the sandbox's own network namespace
    outside = authsome_run("--no-sandbox", "--", "readlink", "/proc/self/ns/net")
    assert outside.returncode == 0 and outside.stdout.strip() == ours


NO_USERNS = ["bwrap", "--unshare-user", "--disable-userns", "--bind", "/", "/",
             "--proc", "/proc", "--dev", "/dev", "--"]  # fmt: skip


def test_without_user_namespaces_sandbox_stops_before_the_command(vault, tmp_path, run_mode):
    """Where user namespaces cannot be made (here: inside a bwrap that forbids them),
    --sandbox exits 2 with the reason and the fix; CMD never runs. Through the agent,
    the client fails to make them and tells the run's process, which says it."""
    marker = tmp_path / "ran"
    res = subprocess.run(
        [*NO_USERNS, tool("authsome"), "run", "--sandbox", "--", "touch", str(marker)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "user namespaces must be enabled" in res.stderr
    assert not marker.exists()


def test_doctor_says_whether_the_sandbox_works(vault):
    here = subprocess.run([tool("authsome"), "doctor"], capture_output=True, text=True)
    assert "[ok  ] sandbox: run --sandbox works here" in here.stdout
    inside = subprocess.run(
        [*NO_USERNS, tool("authsome"), "doctor"], capture_output=True, text=True, timeout=60
    )
    assert "[warn] sandbox: run --sandbox does not work here" in inside.stdout
    assert "user namespaces must be enabled" in inside.stdout


DIRECT_PROBE = r"""
import os, socket, ssl, sys
api, port, relay, closed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
def get(sni, host):
    try:
        with socket.create_connection((api, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                head = f"GET /echo HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                tls.sendall(head.encode())
                return tls.recv(65536).split(b"\r\n")[0].decode()
    except (OSError, ssl.SSLError) as exc:
        return type(exc).__name__
def tcp(p):
    try:
        with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
            return s.recv(100).decode()
    except OSError as exc:
        return type(exc).__name__
print(get(api, api))                   # the API host by its name: injected
print(get("other.example.test", api))  # a name the proxy does not intercept: no handshake
print(get(api, "evil.example"))        # another Host inside: 421, no token
print(tcp(relay))                      # --allow-host-port: relayed to the host's loopback
print(tcp(closed))                     # any other host port: nothing there
"""


def test_direct_listener_and_allowed_host_ports(vault, upstream):
    hello = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))

    def greet():
        conn, _ = hello.accept()
        conn.sendall(b"hello from the host")
        conn.close()

    threading.Thread(target=greet, daemon=True).start()
    relay, shut = hello.getsockname()[1], closed.getsockname()[1]
    res = authsome_run(
        "--sandbox", "--allow-host-port", str(relay), *resolve_args(upstream.port), "--",
        sys.executable, "-c", DIRECT_PROBE, API_HOST, str(upstream.port), str(relay), str(shut),
    )  # fmt: skip
    hello.close()
    closed.close()
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].endswith(" 200 OK"), lines
    assert lines[1].startswith("SSL"), lines  # the handshake ends (an alert or EOF)
    assert lines[2].split()[1] == "421", lines
    assert lines[3:] == ["hello from the host", "ConnectionRefusedError"], lines
    auths = [v for r in upstream.requests for k, v in r["headers"] if k.lower() == "authorization"]
    assert auths == [f"Bearer {TOKEN}"]  # the one request by the API host's name


def test_allow_host_port_needs_the_sandbox(vault):
    res = authsome_run("--no-sandbox", "--allow-host-port", "5432", "--", "true")
    assert res.returncode == 2 and "needs --sandbox" in res.stderr


def test_the_child_has_no_capabilities_even_as_root(vault):
    """Root in bwrap's user namespace would keep every capability there (and could, for
    one, unmount what hides the home): --cap-drop ALL."""
    res = authsome_run("--sandbox", "--", "grep", "^Cap", "/proc/self/status")
    assert res.returncode == 0, res.stderr
    caps = dict(line.split(":\t") for line in res.stdout.splitlines())
    assert {caps[k] for k in ("CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0000000000000000"}
