"""Real git against a local TLS smart-HTTP server, with git-credential-authsome as its helper."""

from __future__ import annotations

import json
import stat
import subprocess
import time

import pytest

from support.cli import run_tool
from support.providers import write_oauth_provider


def git(env, *args, cwd=None, askpass=None, check=False):
    if askpass is not None:
        env = {**env, "GIT_ASKPASS": str(askpass)}
    return subprocess.run(
        ["git", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=check
    )


def clone(env, url, dest, **kw):
    return git(env, "clone", "-q", url, str(dest), **kw)


def helper(action, text, *args):
    return run_tool("git-credential-authsome", *args, action, input=text)


def askpass_script(tmp_path, answers: dict[str, str]):
    """GIT_ASKPASS that answers prompts by the first word ('Username'/'Password') and the
    user in the URL, and logs every prompt to a file."""
    log = tmp_path / "askpass.log"
    script = tmp_path / "askpass.py"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, re, sys\n"
        f"answers = json.loads({json.dumps(json.dumps(answers))})\n"
        "prompt = sys.argv[1]\n"
        f"open({str(log)!r}, 'a').write(prompt + '\\n')\n"
        'm = re.search(r"//(?:([^@\']+)@)?", prompt)\n'
        "kind = prompt.split()[0]\n"
        "user = m.group(1) if m and m.group(1) else ''\n"
        "print(answers.get(kind + ':' + user, answers.get(kind, '')))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


# --- a provider's git host ----------------------------------------------------------------


@pytest.fixture
def forge(home, git_server):
    host = f"127.0.0.1:{git_server.port}"
    write_oauth_provider(home, "forge", git_hosts=[{"host": host, "username": "x-access-token"}])
    git_server.add_repo("repo.git")
    return host


def test_clone_with_the_providers_token(forge, git_server, git_env, tmp_path, run):
    assert (
        run(
            "authsome-helper", "store", "forge", input='{"access_token":"tok-a","expires_in":3600}'
        ).returncode
        == 0
    )
    git_server.accept[(None, "x-access-token")] = "tok-a"
    result = clone(git_env, git_server.url("repo.git"), tmp_path / "c1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c1" / "README").read_text() == "repo.git"
    assert ("repo.git", "basic", "x-access-token") in git_server.seen
    # git approved the token: it was not copied into the storage helper's entries
    assert not list((tmp_path / "authsome-home" / "vault" / "git").glob("*.rec"))


def test_rejected_token_is_marked_and_refresh_is_required(
    forge, git_server, git_env, tmp_path, run
):
    run("authsome-helper", "store", "forge", input='{"access_token":"stale","expires_in":3600}')
    git_server.accept[(None, "x-access-token")] = "fresh"
    result = clone(git_env, git_server.url("repo.git"), tmp_path / "c1")
    assert result.returncode != 0
    # git's erase told the service the token was refused: the next get must refresh first,
    # and without a refresh token that means logging in again.
    got = run("authsome-helper", "get", "forge")
    assert got.returncode == 5, got.stdout
    assert json.loads(got.stdout)["error"]["code"] == "reauth_required"


def test_provider_host_answers_without_connection_fall_back_to_storage(forge):
    text = f"protocol=https\nhost={forge}\n\n"
    assert helper("get", text).stdout == ""
    stored = f"protocol=https\nhost={forge}\nusername=u\npassword=p\n\n"
    assert helper("store", stored).returncode == 0
    assert helper("get", text).stdout == "username=u\npassword=p\n"


def test_bearer_when_git_announces_authtype(home, run):
    # git 2.39 here predates capability[]=authtype (2.46), so git's side is played by hand.
    write_oauth_provider(
        home,
        "forge",
        git_hosts=[
            {"host": "bearer.example", "username": "oauth2", "bearer": True},
            {"host": "basic.example", "username": "oauth2"},
        ],
    )
    run("authsome-helper", "store", "forge", input='{"access_token":"tok","expires_in":3600}')
    asks = "capability[]=authtype\nprotocol=https\nhost={}\n\n"
    out = helper("get", asks.format("bearer.example")).stdout.splitlines()
    assert out[:4] == ["capability[]=authtype", "authtype=Bearer", "credential=tok", "ephemeral=1"]
    expiry = int(out[4].split("=")[1])
    assert out[4].startswith("password_expiry_utc=") and abs(expiry - time.time() - 3600) < 30
    basic = helper("get", asks.format("basic.example")).stdout
    assert basic.startswith("username=oauth2\npassword=tok\npassword_expiry_utc=")
    no_cap = helper("get", "protocol=https\nhost=bearer.example\n\n").stdout
    assert no_cap.startswith("username=oauth2\npassword=tok\n")
    # never to a cleartext remote
    assert helper("get", "protocol=http\nhost=bearer.example\n\n").stdout == ""


# --- the storage helper -----------------------------------------------------------------------


def test_storage_prompt_once_then_no_prompt_then_rejected_password_is_erased(
    home, git_server, git_env, tmp_path
):
    git_server.add_repo("repo.git")
    git_server.accept[(None, "alice")] = "pw-alice"
    script, log = askpass_script(tmp_path, {"Username": "alice", "Password": "pw-alice"})
    first = clone(git_env, git_server.url("repo.git"), tmp_path / "c1", askpass=script)
    assert first.returncode == 0, first.stderr
    assert len(log.read_text().splitlines()) == 2  # asked user name and password once

    # the approved credential is in the vault, encrypted: no plaintext on disk
    records = list((home / "vault" / "git").glob("*.rec"))
    assert len(records) == 1 and b"pw-alice" not in records[0].read_bytes()
    assert stat.S_IMODE(records[0].stat().st_mode) == 0o600

    second = clone(git_env, git_server.url("repo.git"), tmp_path / "c2", askpass="/bin/false")
    assert second.returncode == 0, second.stderr
    assert len(log.read_text().splitlines()) == 2

    git_server.accept[(None, "alice")] = "changed"
    third = clone(git_env, git_server.url("repo.git"), tmp_path / "c3", askpass="/bin/false")
    assert third.returncode != 0
    assert not list((home / "vault" / "git").glob("*.rec"))  # git's erase removed it


def test_several_usernames_on_one_host(home, git_server, git_env, tmp_path):
    git_server.add_repo("repo.git")
    git_server.accept[(None, "alice")] = "pw-a"
    git_server.accept[(None, "bob")] = "pw-b"
    script, log = askpass_script(tmp_path, {"Password:alice": "pw-a", "Password:bob": "pw-b"})
    for user in ("alice", "bob"):
        r = clone(
            git_env, git_server.url("repo.git", user), tmp_path / f"first-{user}", askpass=script
        )
        assert r.returncode == 0, r.stderr
    assert len(log.read_text().splitlines()) == 2
    git_server.seen.clear()
    for user in ("alice", "bob"):
        r = clone(
            git_env,
            git_server.url("repo.git", user),
            tmp_path / f"again-{user}",
            askpass="/bin/false",
        )
        assert r.returncode == 0, r.stderr
    assert {who for _, _, who in git_server.seen} == {"alice", "bob"}


def test_use_http_path_keeps_one_credential_per_repository(home, git_server, git_env, tmp_path):
    for repo in ("one.git", "two.git"):
        git_server.add_repo(repo)
    git_server.accept[("one.git", "alice")] = "pw-one"
    git_server.accept[("two.git", "alice")] = "pw-two"
    env = {**git_env, "GIT_CONFIG_COUNT": "1"}
    env.update(GIT_CONFIG_KEY_0="credential.useHttpPath", GIT_CONFIG_VALUE_0="true")
    for repo, pw in (("one.git", "pw-one"), ("two.git", "pw-two")):
        script, _ = askpass_script(tmp_path, {"Username": "alice", "Password": pw})
        r = clone(env, git_server.url(repo), tmp_path / f"first-{repo}", askpass=script)
        assert r.returncode == 0, r.stderr
    assert len(list((home / "vault" / "git").glob("*.rec"))) == 2
    for repo in ("one.git", "two.git"):
        r = clone(env, git_server.url(repo), tmp_path / f"again-{repo}", askpass="/bin/false")
        assert r.returncode == 0, r.stderr
    # `git credential fill` with a path gets that path's password
    fill = subprocess.run(
        ["git", "credential", "fill"],
        input=f"url={git_server.url('two.git')}\n\n",
        env={**env, "GIT_ASKPASS": "/bin/false"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "password=pw-two\n" in fill.stdout


def test_expiry_is_kept_and_an_expired_password_is_never_returned(home):
    now = int(time.time())
    base = "protocol=https\nhost=h.example\nusername=alice\n"
    # git drops an already expired password itself; the helper refuses it too
    assert (
        helper("store", base + f"password=old\npassword_expiry_utc={now - 1}\n\n").returncode == 0
    )
    assert helper("get", "protocol=https\nhost=h.example\n\n").stdout == ""

    for window in (2, 6, 20):  # a loaded machine may take longer than 2 s for store + get
        soon = int(time.time()) + window
        text = base + f"password=pw\npassword_expiry_utc={soon}\noauth_refresh_token=rt\n\n"
        assert helper("store", text).returncode == 0
        out = helper("get", "protocol=https\nhost=h.example\n\n").stdout
        if time.time() < soon - 0.5:
            break
    assert (
        out == f"username=alice\npassword=pw\npassword_expiry_utc={soon}\noauth_refresh_token=rt\n"
    )
    time.sleep(max(0, soon - time.time()) + 0.2)
    # expired: no password, but the refresh token for an OAuth helper that comes after us
    out = helper("get", "protocol=https\nhost=h.example\n\n").stdout
    assert out == "username=alice\noauth_refresh_token=rt\n"


def test_protocol_rules(home):
    # unknown actions are ignored with exit 0 (and no output)
    r = helper("frobnicate", "protocol=https\nhost=h\n\n")
    assert (r.returncode, r.stdout) == (0, "")
    # NUL or CR inside a value: refused, nothing stored, no value echoed
    r = helper("store", "protocol=https\nhost=h\nusername=a\npassword=p\rq\n\n")
    assert r.returncode == 2 and "p\rq" not in r.stderr and r.stdout == ""
    assert helper("get", "protocol=https\nhost=h\n\n").stdout == ""
    # input ends at the blank line: what follows is not read as part of the request
    r = run_tool("git-credential-authsome", "get", input=b"protocol=https\nhost=h\n\nusername=x\n")
    assert r.returncode == 0 and r.stdout == b""
    # reads to EOF without a blank line
    assert helper("store", "protocol=https\nhost=h\nusername=a\npassword=p").returncode == 0
    assert helper("get", "protocol=https\nhost=h").stdout == "username=a\npassword=p\n"
    # usage errors: one line on stderr, exit 2
    r = run_tool("git-credential-authsome", input="")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
