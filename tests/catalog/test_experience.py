"""The everyday CLI: an example in every command's --help, colour only on a terminal and
never with NO_COLOR, the live status line while a login waits, and doctor naming each
problem with its fix."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time

import pytest

from authsome.cli.main import build_parser
from catalog.conftest import redirect, templated_provider, write_definition
from support.browser import ACTION_ENV
from support.cli import tool

AUTHSOME = tool("authsome")


def registered() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(c.dest for c in sub._choices_actions)


@pytest.mark.parametrize("command", registered())
def test_help_has_an_example(command):
    res = subprocess.run([AUTHSOME, command, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "Traceback" not in res.stderr
    after_options = res.stdout.split("options:", 1)[1]
    # an example section: a heading, then a command line that runs this very command
    assert re.search(r"^(examples?|install)\b.*:$", after_options, re.M), res.stdout
    assert re.search(rf"^\s+.*\bauthsome {command}\b", after_options, re.M), res.stdout


def test_main_help_has_examples():
    res = subprocess.run([AUTHSOME, "--help"], capture_output=True, text=True)
    assert "examples:" in res.stdout and "authsome login" in res.stdout


# -- colour --------------------------------------------------------------------------------


def run_in_pty(args: list[str], env: dict, timeout: float = 30) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; returns (exit code, output)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=5), b"".join(chunks).decode(errors="replace")


def test_colour_only_on_a_terminal_and_never_with_no_color(home):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    code, out = run_in_pty([AUTHSOME, "list"], env)
    assert code == 0 and "\x1b[" in out  # a terminal: colour
    code, out = run_in_pty([AUTHSOME, "list"], {**env, "NO_COLOR": "1"})
    assert code == 0 and "\x1b[" not in out  # NO_COLOR: none, even on a terminal
    code, out = run_in_pty([AUTHSOME, "list"], {**env, "TERM": "dumb"})
    assert code == 0 and "\x1b[" not in out
    piped = subprocess.run([AUTHSOME, "list"], capture_output=True, text=True, env=env)
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout  # a pipe: none


# -- the live status line while a login waits -------------------------------------------


@pytest.fixture
def waiting_login(home, server, port, browser, monkeypatch):
    """A login whose browser opens the page and never comes back."""
    monkeypatch.setenv(ACTION_ENV, "ignore")
    write_definition(home, templated_provider())
    server.register_client("cli", redirect_uris=[redirect(port)], scope="read")
    host = server.base_url.removeprefix("http://")
    return [
        AUTHSOME, "login", "tenantco", "--client-id", "cli", "--timeout", "3",
        "--set", f"host={host}", "--set", "tenant=acme",
    ]  # fmt: skip


def test_login_status_line_on_a_terminal(waiting_login):
    code, out = run_in_pty(waiting_login, dict(os.environ))
    assert code == 7
    ticks = re.findall(
        r"\r\x1b\[2KWaiting for the TenantCo sign-in in your browser: (\d+):(\d\d) left", out
    )
    left = [int(m) * 60 + int(s) for m, s in ticks]
    # the first tick depends on how fast a loaded machine got there (3 s timeout)
    assert 1 <= left[0] <= 3 and left == sorted(left, reverse=True) and len(set(left)) >= 2
    assert "(Ctrl-C to cancel)" in out
    assert "timed out after 3 s waiting for the TenantCo sign-in" in out


def test_login_status_line_when_not_a_terminal(waiting_login):
    res = subprocess.run(waiting_login, capture_output=True, text=True, timeout=30)
    assert res.returncode == 7
    waits = [line for line in res.stderr.splitlines() if line.startswith("Waiting for")]
    # One line, no redraws; the seconds left depend on how fast the machine got there.
    assert len(waits) == 1, res.stderr
    assert re.fullmatch(
        r"Waiting for the TenantCo sign-in in your browser: 0:0[0-3] left \(Ctrl-C to cancel\)",
        waits[0],
    )
    assert "\r" not in res.stderr and "\x1b[" not in res.stderr


# -- doctor --------------------------------------------------------------------------------


def doctor(env: dict | None = None) -> tuple[int, list[dict], str]:
    res = subprocess.run(
        [AUTHSOME, "doctor", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "Traceback" not in res.stderr
    return res.returncode, json.loads(res.stdout), res.stderr


def test_doctor_without_a_keyring_warns_with_the_fix(home, monkeypatch):
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    _, checks, _ = doctor()
    keyring = next(c for c in checks if c["name"] == "keyring")
    assert keyring["level"] == "warn" and "no working keyring backend" in keyring["message"]
    assert "AUTHSOME_MASTER_KEY" in keyring["fix"] and "Secret Service" in keyring["fix"]
    human = subprocess.run([AUTHSOME, "doctor"], capture_output=True, text=True)
    assert "[warn] keyring: no working keyring backend" in human.stdout
    assert "fix: install and unlock a Secret Service" in human.stdout
    assert not (home / "master.key").exists()  # doctor looks; it creates nothing


def test_doctor_on_a_broken_home_names_each_problem_and_fix(home, run):
    assert (
        run("authsome", "login", "openai", "--api-key-stdin", input="sk-doctor-test").returncode
        == 0
    )
    write_definition(home, templated_provider())
    broken = home / "providers" / "broken.json"
    broken.write_text('{"name": "broken", "auth_type": "oauth2", ')
    broken.chmod(0o600)
    home.chmod(0o755)
    loose = home / "providers" / "tenantco.json"
    loose.chmod(0o644)
    code, checks, _ = doctor()
    assert code == 1
    fails = {(c["name"], c["fix"]) for c in checks if c["level"] == "fail"}
    assert ("home", f"chmod 700 {home}") in fails
    # a definition readable by others (the umask's 644) is a note, not a failure
    warns = {(c["name"], c["fix"]) for c in checks if c["level"] == "warn"}
    assert ("permissions", f"chmod 600 {loose}") in warns
    assert ("providers", f"fix or remove {broken}") in fails
    provider_msg = [
        c["message"] for c in checks if c["name"] == "providers" and c["level"] == "fail"
    ]
    assert str(broken) in provider_msg[0] and "JSON" in provider_msg[0]
    names = {c["name"]: c for c in checks}
    assert names["openai:default"]["level"] == "ok"
    assert names["proxy CA"]["level"] == "ok"
    assert "shell hook" in names


def test_doctor_healthy_home_exits_0(home, run):
    assert (
        run("authsome", "login", "openai", "--api-key-stdin", input="sk-doctor-test").returncode
        == 0
    )
    code, checks, _ = doctor()
    assert code == 0, [c for c in checks if c["level"] == "fail"]
