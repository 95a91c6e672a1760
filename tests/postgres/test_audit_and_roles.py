"""The shared vault's schema ownership, the client role and the audit chain (#19 item 4)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

import psycopg

from authsome.vault.pgschema import MIGRATIONS, SCHEMA_VERSION
from postgres.machines import tool

OPENAI_KEY = "sk-" + "Au7" * 12


def as_admin(pg, dbname: str):
    """A superuser session on one test database (unix socket, trust)."""
    return psycopg.connect(host=pg.root, port=pg.port, user="admin", dbname=dbname, autocommit=True)


def store_openai(run, env=None) -> None:
    res = run("authsome", "login", "openai", "--api-key-stdin", input=OPENAI_KEY, env=env)
    assert res.returncode == 0, res.stderr


def test_a_squatted_schema_is_refused_by_init_and_by_clients(pg, pg_db, home, run, monkeypatch):
    """A role with only CREATE on the database made `authsome` first, complete and open to
    all: init used to call it current and clients used its tables."""
    squatter = "squat_" + secrets.token_hex(4)
    with as_admin(pg, pg_db) as conn:
        conn.execute(f"CREATE ROLE {squatter}")
        conn.execute(f"GRANT CREATE ON DATABASE {pg_db} TO {squatter}")
        conn.execute(f"SET ROLE {squatter}")
        conn.execute("CREATE SCHEMA authsome")
        conn.execute(
            "CREATE TABLE authsome.schema_version (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now(), applied_by text)"
        )
        for version in range(1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO authsome.schema_version (version) VALUES (%s)", (version,))
        conn.execute("GRANT USAGE ON SCHEMA authsome TO PUBLIC")
        conn.execute("GRANT ALL ON ALL TABLES IN SCHEMA authsome TO PUBLIC")
        conn.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA authsome TO PUBLIC")
    url = pg.url(pg_db)
    res = run("authsome", "vault", "init", "--url", url)
    assert res.returncode == 6, res.stdout + res.stderr
    assert f"owned by '{squatter}'" in res.stderr and res.stderr.count("\n") == 2  # + warning
    monkeypatch.setenv("AUTHSOME_VAULT_URL", url)
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 6 and f"owned by '{squatter}'" in res.stderr
    res = run("authsome", "login", "openai", "--api-key-stdin", input=OPENAI_KEY)
    assert res.returncode == 6
    with as_admin(pg, pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM authsome.records").fetchone()[0] == 0


def test_the_client_role_reads_and_writes_records_but_cannot_rewrite_the_audit(
    pg, pg_db, home, run, monkeypatch
):
    client = "client_" + secrets.token_hex(4)
    password = "pw-" + secrets.token_hex(8)
    with as_admin(pg, "postgres") as conn:
        conn.execute(f"CREATE ROLE {client} LOGIN PASSWORD '{password}'")
    owner = {**os.environ, "PGPASSWORD": pg.password}
    url = f"postgresql://authsome@127.0.0.1:{pg.port}/{pg_db}"
    res = run("authsome", "vault", "init", "--url", url, "--client-role", client, env=owner)
    assert res.returncode == 0, res.stderr
    assert f"Client role {client}: records read/write, audit append-only" in res.stdout
    client_url = f"postgresql://{client}@127.0.0.1:{pg.port}/{pg_db}"
    env = {**os.environ, "AUTHSOME_VAULT_URL": client_url, "PGPASSWORD": password}
    store_openai(run, env)
    res = run("authsome-helper", "get", "openai", env=env)
    assert res.returncode == 0 and json.loads(res.stdout)["api_key"] == OPENAI_KEY
    assert run("authsome", "log", env=env).stdout.count("openai") >= 2
    with psycopg.connect(client_url, password=password, autocommit=True) as conn:
        for statement in (
            "DELETE FROM authsome.audit",
            "UPDATE authsome.audit SET event = 'nothing'",
            "TRUNCATE authsome.audit",
        ):
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                continue
            raise AssertionError(f"the client role may run: {statement}")
    assert run("authsome", "log", "--verify", env=env).returncode == 0


def test_log_verify_detects_deleted_and_edited_entries(pg, pg_db, vault_url, run):
    store_openai(run)
    procs = [  # four writers at once: the chain stays one chain
        subprocess.Popen(
            [
                "sh",
                "-c",
                f"for i in 1 2 3; do {tool('authsome-helper')} get openai >/dev/null; done",
            ]
        )
        for _ in range(4)
    ]
    assert [p.wait(60) for p in procs] == [0] * 4
    res = run("authsome", "log", "--verify")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("audit chain intact: ")
    entries = int(res.stdout.split(": ")[1].split()[0])
    assert entries >= 13
    doctor = run("authsome", "doctor").stdout
    assert f"[ok  ] audit chain: intact: {entries} entries" in doctor
    with as_admin(pg, pg_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM authsome.audit ORDER BY id")]
        conn.execute("DELETE FROM authsome.audit WHERE id = %s", (ids[5],))
    res = run("authsome", "log", "--verify")
    assert res.returncode == 1
    assert f"the audit chain is broken at entry {ids[6]}" in res.stderr
    assert "[FAIL] audit chain: broken at entry" in run("authsome", "doctor").stdout
    with as_admin(pg, pg_db) as conn:  # an edit further back is named first
        conn.execute("UPDATE authsome.audit SET provider = 'github' WHERE id = %s", (ids[2],))
    res = run("authsome", "log", "--verify", "--json")
    assert res.returncode == 1 and json.loads(res.stdout)["broken_at"] == ids[2]


def test_a_row_inserted_raw_breaks_the_chain_and_prints_escaped(pg, pg_db, vault_url, run):
    store_openai(run)
    with as_admin(pg, pg_db) as conn:
        conn.execute(
            "INSERT INTO authsome.audit (event, provider) VALUES (%s, 'openai')",
            ("read\x1b]0;pwned\x07",),
        )
    res = run("authsome", "log")
    assert "\x1b" not in res.stdout and "\\x1b]0;pwned" in res.stdout
    assert run("authsome", "log", "--verify").returncode == 1
    assert run("authsome", "log", "--verify").stderr.count("\n") == 1
