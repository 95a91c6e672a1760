"""Someone who can write to the shared vault's tables cannot hang or burn every client
(#19 item 3): a table lock, a header asking for huge scrypt costs, malformed header
fields, a junk row. Each ends in the SPEC's error (exit 6, vault_unavailable) quickly,
or is skipped and reported, never a hang or an internal error."""

from __future__ import annotations

import base64
import json
import os
import threading
import time

import pytest

OPENAI_KEY = "sk-" + "Hw7" * 12


def connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def store_openai(run) -> None:
    res = run("authsome", "login", "openai", "--api-key-stdin", input=OPENAI_KEY)
    assert res.returncode == 0, res.stderr


def test_a_table_lock_makes_get_answer_vault_unavailable_in_seconds(vault_url, run):
    store_openai(run)
    locked, release = threading.Event(), threading.Event()

    def hold():
        with connect(vault_url) as conn, conn.transaction():
            conn.execute("LOCK TABLE authsome.records IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert locked.wait(10)
        start = time.monotonic()
        res = run("authsome-helper", "get", "openai", timeout=60)
        spent = time.monotonic() - start
        assert res.returncode == 6, res.stderr
        assert json.loads(res.stdout)["error"]["code"] == "vault_unavailable"
        assert "did not answer within 5s" in res.stderr and res.stderr.count("\n") == 1
        assert spent < 15, spent
    finally:
        release.set()
        holder.join(10)
    res = run("authsome-helper", "get", "openai")  # the lock gone, all is well again
    assert res.returncode == 0 and json.loads(res.stdout)["api_key"] == OPENAI_KEY


@pytest.fixture
def passphrase_vault(vault_url, run, monkeypatch):
    monkeypatch.delenv("AUTHSOME_MASTER_KEY")
    monkeypatch.setenv("AUTHSOME_PASSPHRASE", "correct horse battery staple")
    store_openai(run)
    with connect(vault_url) as conn:
        row = conn.execute(
            "SELECT blob FROM authsome.records WHERE kind = 'meta' AND name = 'header'"
        ).fetchone()
    header = json.loads(bytes(row[0]))
    assert header["kdf"]["n"] == 2**15

    def rewrite(**kdf):
        bad = dict(header, kdf=dict(header["kdf"], **kdf))
        with connect(vault_url) as conn:
            conn.execute(
                "UPDATE authsome.records SET blob = %s WHERE kind = 'meta' AND name = 'header'",
                (json.dumps(bad).encode(),),
            )

    return rewrite


@pytest.mark.parametrize(
    "kdf",
    [
        {"p": 400},  # 25 s per get before
        {"n": 2**20, "r": 8, "p": 1},  # within maxmem, still far too slow
        {"n": 3},
        {"salt": 5},
        {"salt": "@@@"},
        {"n": True},
        {"name": "argon2"},
    ],
)
def test_a_hostile_or_malformed_kdf_header_is_the_specs_error(passphrase_vault, run, kdf):
    passphrase_vault(**kdf)
    start = time.monotonic()
    res = run("authsome-helper", "get", "openai", timeout=60)
    assert time.monotonic() - start < 10
    assert res.returncode == 6, res.stderr
    assert "header" in res.stderr and "corrupt" in res.stderr
    assert "internal" not in res.stderr and res.stderr.count("\n") == 1


def test_a_kdf_that_is_not_an_object_is_the_specs_error(passphrase_vault, vault_url, run):
    with connect(vault_url) as conn:
        conn.execute(
            "UPDATE authsome.records SET blob = convert_to("
            "jsonb_set(convert_from(blob, 'UTF8')::jsonb, '{kdf}', '\"x\"')::text, 'UTF8') "
            "WHERE kind = 'meta' AND name = 'header'"
        )
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 6 and "corrupt" in res.stderr and "internal" not in res.stderr


def test_a_junk_row_is_skipped_and_reported_by_list(vault_url, run):
    store_openai(run)
    junk = b"ASV1" + os.urandom(60)
    with connect(vault_url) as conn:
        conn.execute(
            "INSERT INTO authsome.records (kind, name, blob) VALUES ('connections', %s, %s)",
            ("github:default", junk),
        )
        conn.execute(
            "INSERT INTO authsome.records (kind, name, blob) VALUES ('connections', %s, %s)",
            ("zzz", base64.b64encode(os.urandom(9))),
        )
    res = run("authsome", "list", "--connected")
    assert res.returncode == 0, res.stderr
    assert "openai" in res.stdout and "no connections yet" not in res.stderr
    assert "skipped: the record connections/github:default does not decrypt" in res.stderr
    assert "connections/zzz" in res.stderr
    assert "Traceback" not in res.stderr
