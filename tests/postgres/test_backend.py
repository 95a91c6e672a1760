"""The PostgreSQL backend on a real private cluster: schema, records, locks, faults."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from authsome.errors import VaultUnavailable
from authsome.vault import backends
from authsome.vault.postgres import SCHEMA_VERSION, lock_key
from authsome.vault.vault import Vault
from postgres.conftest import free_port, new_key
from postgres.machines import Machine
from support.cli import run_tool

OPENAI_KEY = "sk-" + "Zq7" * 12
HOLD_LOCK = (
    "import time\n"
    "from authsome.vault.vault import Vault\n"
    "with Vault().lock('connections', 'x:default'):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(60)\n"
)


def test_init_creates_a_versioned_schema_idempotently(pg, pg_db, home, run):
    url = pg.url(pg_db)
    first = run("authsome", "vault", "init", "--url", url)
    assert first.returncode == 0, first.stderr
    assert f"Created the authsome schema (version {SCHEMA_VERSION})" in first.stdout
    # The password in argv draws a warning, and is never echoed.
    assert "process list" in first.stderr and pg.password not in first.stdout + first.stderr
    # Many machines running init at once: all succeed, the migrations apply once.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "authsome.cli.main", "vault", "init", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**Machine(home, new_key(), url).env},
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [o[1] for o in outs]
    assert all(json.loads(o[0])["before"] == SCHEMA_VERSION for o in outs)
    with psycopg_connect(url) as conn:
        versions = conn.execute("SELECT version FROM authsome.schema_version").fetchall()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]  # each applied once


def psycopg_connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def test_records_are_opaque_blobs(vault_url):
    vault = Vault()
    vault.put("connections", "openai:default", {"api_key": OPENAI_KEY})
    vault.put("git", "https://example.com", {"password": "gitpw-123456789"})
    assert vault.get("connections", "openai:default") == {"api_key": OPENAI_KEY}
    assert vault.names("git") == ["https://example.com"]
    assert Vault().get("git", "https://example.com") == {"password": "gitpw-123456789"}
    with psycopg_connect(vault_url) as conn:
        rows = conn.execute("SELECT kind, name, blob FROM authsome.records").fetchall()
    assert {(k, n) for k, n, _ in rows} == {
        ("meta", "header"),
        ("connections", "openai:default"),
        ("git", "https://example.com"),
    }
    for kind, _, blob in rows:
        if kind != "meta":
            assert bytes(blob).startswith(b"ASV2") and OPENAI_KEY.encode() not in bytes(blob)
    assert vault.delete("git", "https://example.com") is True
    assert vault.delete("git", "https://example.com") is False
    assert vault.names("git") == []


def test_no_schema_is_one_clear_line(pg, pg_db, home, monkeypatch, run):
    monkeypatch.setenv("AUTHSOME_VAULT_URL", pg.url(pg_db))
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 6
    assert res.stderr.strip().splitlines() == [
        f"authsome-helper: the shared vault at {backends.redact(pg.url(pg_db))} has no authsome "
        "schema: run `authsome vault init`"
    ]
    assert json.loads(res.stdout)["error"]["code"] == "vault_unavailable"


@pytest.mark.parametrize(
    "tool_args", [("authsome-helper", "get", "openai"), ("authsome", "export", "openai")]
)
def test_unreachable_database_is_exit_6_without_the_password(pg, home, monkeypatch, tool_args):
    url = f"postgresql://authsome:{pg.password}@127.0.0.1:{free_port()}/nowhere"
    monkeypatch.setenv("AUTHSOME_VAULT_URL", url)
    res = run_tool(*tool_args)
    assert res.returncode == 6
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot reach the shared vault at 127.0.0.1:" in lines[0] and "/nowhere:" in lines[0]
    assert "Connection refused" in lines[0]
    assert pg.password not in res.stderr + res.stdout


def test_wrong_password_is_one_line_without_it(pg, pg_url, home, monkeypatch, run):
    wrong = "not-the-pw-77"
    monkeypatch.setenv("AUTHSOME_VAULT_URL", pg_url.replace(pg.password, wrong))
    res = run("authsome", "vault", "status")
    assert res.returncode == 6
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "password authentication failed" in lines[0]
    assert wrong not in res.stderr and pg.password not in res.stderr


def test_status_reports_schema_and_contents(vault_url, run):
    res = run("authsome-helper", "store", "openai", input=json.dumps({"api_key": OPENAI_KEY}))
    assert res.returncode == 0, res.stderr
    res = run("authsome", "vault", "status", "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["backend"] == "postgresql" and info["schema_version"] == SCHEMA_VERSION
    assert info["records"] == {"connections": 1, "meta": 1}
    assert info["key_source"] == "AUTHSOME_MASTER_KEY"


def test_lock_held_by_a_killed_process_is_released_by_postgres(vault_url):
    """A process takes the refresh lock and is SIGKILLed: PostgreSQL ends its session and
    the lock goes with it; a waiter gets it at once, with no lease of ours involved."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with psycopg_connect(vault_url) as conn:
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s",
            (lock_key("connections", "x:default") & 0xFFFFFFFFFFFFFFFF,),
        ).fetchone()[0]
    assert held == 1
    got = threading.Event()

    def waiter():
        with Vault().lock("connections", "x:default"):
            got.set()

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    assert not got.wait(0.5)  # excluded while the holder lives
    killed_at = time.monotonic()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert got.wait(5), "the lock was not released when its holder died"
    assert time.monotonic() - killed_at < 2
    t.join(5)


def test_a_waiter_gives_up_after_the_lock_wait_with_one_line(vault_url, monkeypatch):
    """Behind a live holder a waiter queues for LOCK_WAIT, then TimedOut (exit 7)."""
    from authsome.errors import TimedOut
    from authsome.vault import postgres

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(postgres, "LOCK_WAIT", "1s")
        settings = postgres.LOCK_WAITS.replace("'120s'", "'1s'")
        monkeypatch.setattr(postgres, "LOCK_WAITS", settings)
        start = time.monotonic()
        with pytest.raises(TimedOut) as err, Vault().lock("connections", "x:default"):
            pass
        assert 0.9 < time.monotonic() - start < 5
        assert str(err.value).startswith("waited 1s for the lock on connections/x:default")
        # the session survives the timeout and the lock works again once free
        holder.kill()
        holder.wait()
        with Vault().lock("connections", "x:default"):
            pass
    finally:
        holder.kill()


def test_lost_connection_mid_transaction_writes_nothing(pg, pg_url, home, monkeypatch):
    """The session dies half-way through `vault migrate`: one clear error, no row written."""
    from authsome.vault.migrate import migrate

    local = Vault()  # no URL yet: the local file vault
    for i in range(5):
        local.put("connections", f"openai:c{i}", {"api_key": OPENAI_KEY})
    target = backends.postgres(pg_url)
    target.init_schema()
    pid = target.connection().info.backend_pid
    writes = []
    real_write = target.write

    def write_then_die(kind, name, blob):
        writes.append(name)
        if len(writes) == 3:
            with pg.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        real_write(kind, name, blob)

    monkeypatch.setattr(target, "write", write_then_die)
    with pytest.raises(VaultUnavailable) as err:
        migrate(str(home), target)
    message = str(err.value)
    assert "lost the connection to the shared vault" in message and "\n" not in message
    assert pg.password not in message
    with psycopg_connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM authsome.records").fetchone()[0] == 0


def test_config_file_chooses_the_shared_vault(pg_url, home, run):
    backends.postgres(pg_url).init_schema()
    home.mkdir(mode=0o700, exist_ok=True)
    config = home / "config"
    config.write_text(f'# authsome settings\nvault_url = "{pg_url}"\n')
    config.chmod(0o600)
    res = run("authsome-helper", "store", "openai", input=json.dumps({"api_key": OPENAI_KEY}))
    assert res.returncode == 0, res.stderr
    assert not (home / "vault").exists()
    with psycopg_connect(pg_url) as conn:
        names = conn.execute("SELECT name FROM authsome.records WHERE kind = 'connections'")
        assert names.fetchall() == [("openai:default",)]
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 0 and json.loads(res.stdout)["api_key"] == OPENAI_KEY
    config.write_text('vault_url = "mysql://nope"\n')
    res = run("authsome", "list")
    assert res.returncode == 6
    assert res.stderr.strip() == f"authsome: vault_url in {config} must be a postgresql:// URL"


def test_the_file_vault_never_imports_psycopg(home, run):
    code = (
        "import sys\n"
        "from authsome.fastpath import cached\n"
        "cached('openai')\n"
        "print('psycopg' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "False", res.stderr


def test_a_team_passphrase_opens_the_shared_vault_on_every_machine(pg_url, tmp_path):
    backends.postgres(pg_url).init_schema()
    team = {"AUTHSOME_PASSPHRASE": "correct horse battery staple"}
    a = Machine(tmp_path / "a", None, pg_url, team)
    b = Machine(tmp_path / "b", None, pg_url, team)
    res = a.run("authsome-helper", "store", "openai", input=json.dumps({"api_key": OPENAI_KEY}))
    assert res.returncode == 0, res.stderr
    res = b.run("authsome-helper", "get", "openai")
    assert res.returncode == 0 and json.loads(res.stdout)["api_key"] == OPENAI_KEY, res.stderr
    c = Machine(tmp_path / "c", None, pg_url, {"AUTHSOME_PASSPHRASE": "a guess"})
    res = c.run("authsome-helper", "get", "openai")
    assert res.returncode == 6 and "does not open this vault" in res.stderr


def test_doctor_says_when_this_machines_key_cannot_open_it(vault_url, home, run, tmp_path):
    res = run("authsome-helper", "store", "openai", input=json.dumps({"api_key": OPENAI_KEY}))
    assert res.returncode == 0, res.stderr
    ok = run("authsome", "doctor", "--json")
    shared = [c for c in json.loads(ok.stdout) if c["name"] == "shared vault"]
    assert shared[0]["level"] == "ok" and "AUTHSOME_MASTER_KEY" in shared[0]["message"]
    other = Machine(tmp_path / "other", new_key(), vault_url)  # a key of its own
    bad = other.run("authsome", "doctor", "--json")
    assert bad.returncode == 1
    shared = next(c for c in json.loads(bad.stdout) if c["name"] == "shared vault")
    assert shared["level"] == "fail"
    assert "this machine's key cannot open the shared vault" in shared["message"]
    assert "AUTHSOME_MASTER_KEY" in shared["fix"]
    res = other.run("authsome-helper", "get", "openai")
    assert res.returncode == 6 and "does not open this vault" in res.stderr
    assert OPENAI_KEY not in res.stdout + res.stderr + bad.stdout
