"""A shared-vault record rolled back to an older blob, or re-inserted after logout, is
refused with a clear error instead of used (#19 item 2): each record's version is in
its associated data and this machine keeps a high-water mark per record."""

from __future__ import annotations

import json

import psycopg

KEY_OLD = "sk-" + "Old" * 12
KEY_NEW = "sk-" + "New" * 12
SLOT = ("connections", "openai:default")


def blob(url: str) -> bytes:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT blob FROM authsome.records WHERE kind = %s AND name = %s", SLOT
        ).fetchone()
    return bytes(row[0])


def put_blob(url: str, data: bytes) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO authsome.records (kind, name, blob) VALUES (%s, %s, %s) "
            "ON CONFLICT (kind, name) DO UPDATE SET blob = EXCLUDED.blob",
            (*SLOT, data),
        )


def login(run, key: str, *extra: str):
    return run("authsome", "login", "openai", "--api-key-stdin", *extra, input=key)


def test_a_rolled_back_record_is_refused_and_a_new_login_repairs_it(vault_url, run):
    assert login(run, KEY_OLD).returncode == 0
    old = blob(vault_url)
    assert old.startswith(b"ASV2")
    assert login(run, KEY_NEW).returncode == 0
    got = run("authsome-helper", "get", "openai")
    assert json.loads(got.stdout)["api_key"] == KEY_NEW
    put_blob(vault_url, old)  # the database restored to its earlier state
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 6, res.stdout
    assert json.loads(res.stdout)["error"]["code"] == "vault_unavailable"
    assert "older than one this machine has seen" in res.stderr and "rolled back" in res.stderr
    assert KEY_OLD not in res.stdout + res.stderr
    assert run("authsome", "export", "openai").returncode == 6
    listed = run("authsome", "list", "--connected")
    assert "skipped: the record connections/openai:default is older" in listed.stderr
    # logging in again writes a version past the mark
    assert login(run, KEY_NEW, "--force").returncode == 0
    assert json.loads(run("authsome-helper", "get", "openai").stdout)["api_key"] == KEY_NEW


def test_a_record_re_inserted_after_logout_is_refused(vault_url, run):
    assert login(run, KEY_OLD).returncode == 0
    assert run("authsome-helper", "get", "openai").returncode == 0
    old = blob(vault_url)
    assert run("authsome", "logout", "openai", "--no-revoke").returncode == 0
    put_blob(vault_url, old)
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 6 and KEY_OLD not in res.stdout + res.stderr
    assert "older than one this machine has seen" in res.stderr


def test_the_version_cannot_be_edited_in_place(vault_url, run):
    assert login(run, KEY_OLD).returncode == 0
    old = blob(vault_url)
    forged = old[:4] + (10**6).to_bytes(8, "big") + old[12:]  # claim a newer version
    put_blob(vault_url, forged)
    res = run("authsome-helper", "get", "openai")
    assert res.returncode == 6 and "does not decrypt" in res.stderr
