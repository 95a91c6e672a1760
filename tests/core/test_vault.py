"""The vault: permissions, encryption at rest, slot binding, key sources, crash safety."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from authsome.errors import VaultUnavailable
from authsome.vault.vault import Vault

TOKEN = "tok-" + "Zq9" * 10


def _store(run, provider="hubspot", token=TOKEN, connection="default", env=None):
    r = run(
        "authsome-helper",
        "store",
        provider,
        "--connection",
        connection,
        input=f'{{"access_token": "{token}", "refresh_token": "rt-{token}", "expires_in": 3600}}',
        env=env,
    )
    assert r.returncode == 0, r.stderr


def test_home_is_0700_and_every_file_0600(home, run):
    _store(run)
    run("authsome-helper", "get", "hubspot")
    for root, dirs, files in os.walk(home):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o700, d
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o600, f
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700


def test_tokens_are_in_no_file_under_the_home(home, run):
    _store(run)
    secrets = [TOKEN.encode(), f"rt-{TOKEN}".encode()]
    for root, _, files in os.walk(home):
        for f in files:
            data = Path(root, f).read_bytes()
            for s in secrets:
                assert s not in data and base64.b64encode(s) not in data, f


def test_a_record_copied_onto_another_slot_fails_to_decrypt(home, run):
    _store(run, connection="work", token="work-token-123")
    _store(run, connection="personal", token="personal-token-456")
    d = home / "vault" / "connections"
    (d / "hubspot%3Apersonal.rec").write_bytes((d / "hubspot%3Awork.rec").read_bytes())
    r = run("authsome-helper", "get", "hubspot", "--connection", "personal")
    assert r.returncode == 6
    assert "work-token-123" not in r.stdout + r.stderr
    assert '"vault_unavailable"' in r.stdout


def test_a_wrong_master_key_is_vault_unavailable(home, run, monkeypatch):
    _store(run)
    env = dict(os.environ, AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
    r = run("authsome-helper", "get", "hubspot", env=env)
    assert r.returncode == 6 and "does not open this vault" in r.stderr
    env["AUTHSOME_MASTER_KEY"] = "not base64!"
    r = run("authsome-helper", "get", "hubspot", env=env)
    assert r.returncode == 6 and "AUTHSOME_MASTER_KEY" in r.stderr


def test_passphrase_key_source(home, run, monkeypatch):
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    monkeypatch.setenv("AUTHSOME_PASSPHRASE", "correct horse battery staple")
    _store(run)
    assert run("authsome-helper", "get", "hubspot").returncode == 0
    env = dict(os.environ, AUTHSOME_PASSPHRASE="wrong")
    assert run("authsome-helper", "get", "hubspot", env=env).returncode == 6


def test_master_key_wins_over_passphrase(home, monkeypatch):
    monkeypatch.setenv("AUTHSOME_PASSPHRASE", "ignored")
    v = Vault(str(home))
    assert v.source.name == "AUTHSOME_MASTER_KEY"


def test_key_file_fallback_when_no_keyring_works(home, run, monkeypatch):
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    r = run(
        "authsome-helper", "store", "hubspot", input='{"access_token": "abc", "expires_in": 3600}'
    )
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "master.key" in r.stderr
    key_file = home / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    r = run("authsome-helper", "get", "hubspot")
    assert r.returncode == 0 and "warning" not in r.stderr  # only the first time
    r = run("authsome", "doctor")
    assert "master.key" in r.stdout


def test_records_survive_reading_without_key_when_vault_is_empty(home, run, monkeypatch):
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    r = run("authsome-helper", "get", "hubspot")
    assert r.returncode == 3  # nothing stored: not found, and no key file made
    assert not (home / "master.key").exists()


@pytest.mark.keyring
def test_keyring_path_against_the_real_secret_service(home, run, monkeypatch):
    keyring = pytest.importorskip("keyring")
    from authsome.vault.keys import keyring_works

    ok, backend = keyring_works()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run with a Secret Service; backend is {backend}")
        pytest.skip(f"no Secret Service here ({backend}); scripts/test provides one")
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    _store(run)
    username = f"master-key:{home}"
    stored = keyring.get_password("authsome", username)
    assert stored and len(base64.b64decode(stored)) == 32
    r = run("authsome-helper", "get", "hubspot")
    assert r.returncode == 0 and TOKEN in r.stdout
    keyring.delete_password("authsome", username)
    r = run("authsome-helper", "get", "hubspot")
    assert r.returncode == 6


WRITER = r"""
import sys
from authsome.vault.vault import Vault
v = Vault()
i = 0
names = ["a", "b", "c"]
while True:
    for n in names:
        v.put("connections", "p:" + n, {"value": i, "pad": "x" * (i % 5000)})
    i += 1
    if i == 1:
        print("ready", flush=True)
"""


def test_sigkill_while_writing_leaves_old_or_new_records(home):
    random.seed(1234)
    for attempt in range(50):
        proc = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(random.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        v = Vault(str(home))
        for n in ("a", "b", "c"):
            rec = v.get("connections", "p:" + n)
            assert isinstance(rec["value"], int), (attempt, n)
            assert rec["pad"] == "x" * (rec["value"] % 5000)
        leftovers = [f for f in os.listdir(home / "vault" / "connections") if f.startswith(".tmp-")]
        for f in leftovers:  # a temp file from the killed write is harmless and never read
            assert not f.endswith(".rec")


def test_vault_unavailable_when_header_is_corrupt(home, run):
    _store(run)
    (home / "vault" / "meta" / "header.rec").write_text("{not json")
    with pytest.raises(VaultUnavailable):
        Vault(str(home)).get("connections", "hubspot:default")


def test_a_record_that_cannot_be_read_is_one_line_and_the_others_still_work(home, run):
    """Something in a record's place (here a directory; also no permission, an I/O
    error): the commands that need it say so in one line with the SPEC's exit 6, `list`
    and doctor go on with the rest, and nothing is a traceback or an internal error."""
    _store(run, "hubspot")
    _store(run, "github")
    record = home / "vault" / "connections" / "hubspot%3Adefault.rec"
    record.unlink()
    record.mkdir()
    for cmd in (["authsome", "get", "hubspot"], ["authsome", "export", "hubspot"]):
        r = run(*cmd)
        assert r.returncode == 6, (cmd, r.stderr)
        assert r.stderr.strip().splitlines() == [f"authsome: cannot read {record}: Is a directory"]
    helper = run("authsome-helper", "get", "hubspot")
    assert helper.returncode == 6 and json.loads(helper.stdout)["error"]["code"] == (
        "vault_unavailable"
    )
    listed = run("authsome", "list")
    assert listed.returncode == 0, listed.stderr
    assert "default (connected)" in next(x for x in listed.stdout.splitlines() if "GitHub" in x)
    assert f"cannot read {record}" in listed.stderr
    assert run("authsome", "get", "github", "--field", "status").stdout == "connected\n"
    doctor = run("authsome", "doctor")
    assert "internal error" not in doctor.stderr and "Traceback" not in doctor.stderr


def test_a_home_that_is_a_file_is_one_line_everywhere(tmp_path, home, run, monkeypatch):
    not_a_dir = tmp_path / "home-file"
    not_a_dir.write_text("")
    monkeypatch.setenv("AUTHSOME_HOME", str(not_a_dir))
    for cmd in (["authsome", "get", "hubspot"], ["authsome", "run", "--", "true"]):
        r = run(*cmd)
        assert r.returncode == 6, (cmd, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Not a directory" in r.stderr
    listed = run("authsome", "list")  # the providers, and why no connection is shown
    assert listed.returncode == 0 and "hubspot" in listed.stdout
    assert "connections not shown" in listed.stderr and "internal" not in listed.stderr
    doctor = run("authsome", "doctor")
    assert f"[FAIL] home: {not_a_dir} is not a directory" in doctor.stdout


def _plant_file(path: Path) -> None:
    """A file where a folder goes (whatever was there is moved aside)."""
    if path.exists():
        path.rename(path.with_name(path.name + ".moved"))
    path.write_text("")


def _plant_dir(path: Path) -> None:
    if path.exists():
        path.unlink()
    path.mkdir()


def _plant_loop(path: Path) -> None:
    path.rename(path.with_name(path.name + ".moved"))
    path.symlink_to(path.name)


BROKEN_LOCKS = {
    "locks is a file": (lambda h: _plant_file(h / "vault" / "locks"), "Not a directory"),
    "lock folder is a file": (
        lambda h: _plant_file(h / "vault" / "locks" / "connections"),
        "Not a directory",
    ),
    "lock file is a directory": (
        lambda h: _plant_dir(h / "vault" / "locks" / "connections" / "hubspot%3Adefault.rec.lock"),
        "Is a directory",
    ),
    "vault is a file": (lambda h: _plant_file(h / "vault"), "Not a directory"),
    "vault is a symlink loop": (lambda h: _plant_loop(h / "vault"), "symbolic links"),
}


@pytest.mark.parametrize("case", BROKEN_LOCKS, ids=list(BROKEN_LOCKS))
def test_a_vault_whose_locks_cannot_be_taken_is_one_line(case, home, run):
    """Writes take a lock file under vault/locks/: something in the way there (a file
    for a folder, a folder for the file, a symlink loop) is exit 6 naming the path, for
    the helper's store and for logout, not an internal error."""
    _store(run)
    plant, reason = BROKEN_LOCKS[case]
    plant(home)
    for cmd, stdin in (
        (["authsome-helper", "store", "hubspot"], '{"access_token": "other"}'),
        (["authsome", "logout", "hubspot", "--no-revoke"], None),
    ):
        r = run(*cmd, input=stdin)
        assert r.returncode == 6, (cmd, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0] and str(home) in lines[0], (cmd, lines)
        assert "internal error" not in r.stderr
    if case.startswith("lock"):  # the record itself was never touched
        got = run("authsome", "get", "hubspot", "--field", "access_token", "--show-secret")
        assert got.stdout == TOKEN + "\n"


def test_a_config_that_is_not_utf8_is_one_line(home, run):
    _store(run)
    (home / "config").write_bytes(b'vault_url = "\xff"\n')
    for cmd in (["authsome-helper", "get", "hubspot"], ["authsome", "get", "hubspot"]):
        r = run(*cmd)
        assert r.returncode == 6, (cmd, r.stderr)
        assert r.stderr.startswith(f"{cmd[0]}: {home / 'config'} is not a readable TOML file")
        assert len(r.stderr.strip().splitlines()) == 1
    (home / "config").unlink()
    assert run("authsome", "get", "hubspot", "--field", "status").stdout == "connected\n"


def _as_user(user, base: Path, home: Path, *argv: str, stdin: str = ""):
    env = {
        "PATH": f"{user.bin}:/usr/bin:/bin",
        "HOME": str(base),
        "AUTHSOME_HOME": str(home),
        "AUTHSOME_MASTER_KEY": base64.b64encode(b"k" * 32).decode(),
        "AUTHSOME_AGENT": "0",
        "NO_COLOR": "1",
    }
    return user.run(list(argv), env, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("where", ["parent not writable", "home owned by root"])
def test_a_home_we_cannot_write_is_one_line(where, ordinary_user, tmp_path):
    """A home we may not create (its parent is read-only to us) or fill (someone else's,
    a `sudo authsome` leftover): store, login and logout are exit 6 naming the path, not
    internal error (PermissionError). As an ordinary user: root may write anywhere."""
    user = ordinary_user
    base = Path(tempfile.mkdtemp(dir=user.base))
    os.chown(base, user.uid, user.gid)
    store = ("authsome-helper", "store", "hubspot")
    if where == "parent not writable":
        home = base / "ro" / "home"
        home.parent.mkdir(mode=0o500)
        os.chown(home.parent, user.uid, user.gid)
        missing = home
    else:
        if os.getuid() != 0:
            pytest.skip("making a home owned by someone else needs root")
        home = base / "home"
        assert _as_user(user, base, home, *store, stdin='{"access_token": "t"}').returncode == 0
        os.chown(home, 0, 0)
        os.chmod(home, 0o755)
        (home / "providers").rmdir()
        missing = home  # (its mode cannot be set to 0700: EPERM)
    for argv, stdin in (
        (store, '{"access_token": "t"}'),
        (("authsome", "login", "openai", "--api-key-stdin"), "sk-" + "a" * 40),
        (("authsome", "logout", "hubspot", "--no-revoke"), ""),
    ):
        r = _as_user(user, base, home, *argv, stdin=stdin)
        assert r.returncode == 6, (argv, r.stderr)
        assert r.stderr.startswith(f"{argv[0]}: cannot set up the home: {missing}: "), r.stderr
        assert r.stderr.count("\n") == 1 and "internal error" not in r.stderr


def _swap(path: Path, make) -> None:
    if path.exists():
        path.rename(path.with_name(path.name + ".moved"))
    make(path)


NOT_A_FILE = {
    # (file, what goes in its place, the line's reason); a FIFO hung every command
    "record is a FIFO": ("vault/connections/hubspot%3Adefault.rec", os.mkfifo, "cannot read"),
    "header is a FIFO": ("vault/meta/header.rec", os.mkfifo, "cannot read"),
    "config is a FIFO": ("config", os.mkfifo, "is not a readable TOML file"),
    "key file is a FIFO": ("master.key", os.mkfifo, "cannot read the key file"),
    # were internal error (IsADirectoryError / UnicodeDecodeError)
    "key file is a directory": ("master.key", Path.mkdir, "cannot read the key file"),
    "key file is not ASCII": (
        "master.key",
        lambda p: p.write_bytes(b"\xff\xfe"),
        "must be the base64 encoding of 32 random bytes",
    ),
}


@pytest.mark.parametrize("case", NOT_A_FILE, ids=list(NOT_A_FILE))
def test_a_file_of_the_vault_that_is_not_a_file_is_one_line(case, home, run, monkeypatch):
    """A FIFO, a directory or garbage where the vault's record, header, config or key
    file goes: one line and exit 6 at once, for the helper and the CLI."""
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")  # the key file, as with no keyring at all
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    _store(run)
    name, make, reason = NOT_A_FILE[case]
    _swap(home / name, make)
    for cmd in (["authsome-helper", "get", "hubspot"], ["authsome", "get", "hubspot"]):
        r = run(*cmd, timeout=20)
        assert r.returncode == 6, (cmd, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0] and str(home / name) in lines[0], lines


def test_an_audit_log_that_cannot_be_read_is_one_line(home, run):
    _store(run)
    (home / "audit.log").unlink()
    (home / "audit.log").mkdir()
    r = run("authsome", "log")
    assert r.returncode == 1
    assert r.stderr == f"authsome: cannot read the audit log {home / 'audit.log'}: Is a directory\n"
    assert run("authsome-helper", "get", "hubspot").returncode == 0  # a read still works


@pytest.mark.parametrize("name", ["audit.log", "audit.log.1"])
def test_a_fifo_for_the_audit_log_blocks_nothing(name, home, run):
    """A FIFO where the audit log goes blocked every get and store in the log's open
    (and `log` in its read) forever. Reads and writes go on; `log` says why it cannot."""
    _store(run)
    log = home / name
    if log.exists():
        log.unlink()
    os.mkfifo(log)
    assert run("authsome-helper", "get", "hubspot", timeout=20).returncode == 0
    _store(run, token=TOKEN + "2")
    r = run("authsome", "log", timeout=20)
    assert r.returncode == 1
    assert r.stderr == f"authsome: cannot read the audit log {log}: not a regular file\n"


def test_a_passphrase_that_is_not_utf8_still_opens_the_vault(home, run, monkeypatch):
    """The environment holds bytes: a passphrase typed in a Latin-1 terminal reaches us
    with undecodable bytes (surrogates), and was internal error (UnicodeEncodeError)."""
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("AUTHSOME_PASSPHRASE", "caf\udce9")  # b"caf\xe9"
    _store(run)
    got = run("authsome", "get", "hubspot", "--field", "access_token", "--show-secret")
    assert (got.returncode, got.stdout) == (0, TOKEN + "\n"), got.stderr
    monkeypatch.setenv("AUTHSOME_PASSPHRASE", "caf\udce8")  # another byte: another key
    wrong = run("authsome-helper", "get", "hubspot")
    assert wrong.returncode == 6 and "does not open this vault" in wrong.stderr


def test_stale_temp_files_from_killed_writers_are_swept(home, run):
    _store(run)
    d = home / "vault" / "connections"
    stale, fresh = d / ".tmp-stale", d / ".tmp-fresh"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    _store(run, connection="other")
    assert not stale.exists() and fresh.exists()


@pytest.mark.keyring
def test_a_locked_keyring_is_vault_unavailable_and_loses_nothing(home, run, monkeypatch, tmp_path):
    from support.secret_service import PrivateSecretService

    missing = PrivateSecretService.available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have gnome-keyring and dbus: {missing}")
        pytest.skip(f"needs a private gnome-keyring: {missing}")
    secretstorage = pytest.importorskip("secretstorage")
    # Its own keyring: locking the run's shared one would fail every keyring test running
    # meanwhile on another worker.
    service = PrivateSecretService(tmp_path / "keyring", "private-keyring-pw").start()
    try:
        for name, value in service.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AUTHSOME_MASTER_KEY")
        _store(run)
        vault_files = {p: p.read_bytes() for p in (home / "vault").rglob("*.rec")}
        with secretstorage.dbus_init() as conn:
            secretstorage.get_default_collection(conn).lock()
        r = run("authsome-helper", "get", "hubspot")
        assert r.returncode == 6, r.stderr
        assert "locked" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert json.loads(r.stdout)["error"]["code"] == "vault_unavailable"
        assert {p: p.read_bytes() for p in (home / "vault").rglob("*.rec")} == vault_files
        service.start_keyring()  # unlocked again: the key was kept
        assert run("authsome-helper", "get", "hubspot").returncode == 0
    finally:
        service.stop()
