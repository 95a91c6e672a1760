"""Ctrl-C during a slow worker run changes nothing; direnv users' `.envrc` line works."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import types

import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials, TokenSet
from oauth.kit import write_provider

from .conftest import MARK, allow, write_project

KEY = "sk-test-" + "d" * 32


@pytest.fixture
def hanging_provider(home):
    """Provider `slow` whose token endpoint accepts and never answers; expired token."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    srv = types.SimpleNamespace(
        authorization_url=url + "/authorize",
        token_url=url + "/token",
        revocation_url=None,
        device_authorization_url=None,
    )
    write_provider(home, srv, "slow")
    service = CredentialService()
    service.store_client("slow", ClientCredentials("c", "s"))
    service.store_token("slow", "default", TokenSet("old", "refresh", int(time.time()) - 60, []))
    yield
    stop.set()
    for conn in held:
        conn.close()
    listener.close()


# fish cancels the running hook on Ctrl-C and drops the worker's answer; its hook then
# remembers the run it gave up on, so the next prompt does not ask (and hang) again.
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_ctrl_c_during_the_worker_leaves_the_shell_working(
    shell, session, seed, hanging_provider, tmp_path, run
):
    seed.api_key("openai", KEY)
    slow, fine = tmp_path / "slow", tmp_path / "fine"
    write_project(slow, {"SLOW_TOKEN": "slow"})
    write_project(fine, {"OPENAI_API_KEY": "openai"})
    allow(run, slow)
    allow(run, fine)
    s = session(shell)
    os.write(s.fd, f"cd {slow}\n".encode())  # the worker now waits on the token endpoint
    time.sleep(1.5)
    os.write(s.fd, b"\x03")
    # The worker gives up on that connection, says so, and the prompt comes back (well
    # before any HTTP timeout).
    buf = s._read_until(b"SLOW_TOKEN not set: interrupted", b"", time.monotonic() + 10)
    s._read_until(MARK.encode(), buf.partition(b"interrupted")[2], time.monotonic() + 10)
    time.sleep(0.3)
    s.cd(fine)
    assert s.value("OPENAI_API_KEY") == KEY
    assert s.value("SLOW_TOKEN") is None
    s.cd(tmp_path)
    assert s.value("OPENAI_API_KEY") is None


@pytest.mark.skipif(shutil.which("direnv") is None, reason="direnv is not installed")
def test_direnv_envrc_with_authsome_export(seed, tmp_path, home):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / ".envrc").write_text('eval "$(authsome export openai --format env)"\n')
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path))
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env['PATH']}"
    subprocess.run(["direnv", "allow", str(proj)], env=env, check=True, capture_output=True)
    out = subprocess.run(
        ["direnv", "exec", str(proj), "printenv", "OPENAI_API_KEY"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == KEY
