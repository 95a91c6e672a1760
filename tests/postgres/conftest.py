"""Fixtures for the shared-vault tests: a private PostgreSQL cluster per session (see
cluster.py), a fresh database per test. Skips only when PostgreSQL is absent and cannot
be installed; CI installs Debian's `postgresql` package first."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest

psycopg = pytest.importorskip("psycopg", reason="the shared vault tests need psycopg")

from postgres.cluster import Cluster, Unavailable  # noqa: E402
from support.fixtures import free_port  # noqa: E402

__all__ = ["free_port", "new_key"]


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    try:
        cluster = Cluster.start()
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_db(pg) -> Iterator[str]:
    """A fresh database owned by the `authsome` role; yields its name."""
    from authsome.vault import backends

    name = pg.create_database()
    try:
        yield name
    finally:
        for backend in backends._shared.values():
            backend.close()
        backends._shared.clear()
        pg.drop_database(name)


@pytest.fixture
def pg_url(pg, pg_db) -> str:
    return pg.url(pg_db)


@pytest.fixture
def vault_url(pg_url, home, monkeypatch) -> str:
    """`home` (a fresh AUTHSOME_HOME and key) on a shared vault with its schema made."""
    from authsome.vault.backends import postgres

    monkeypatch.setenv("AUTHSOME_VAULT_URL", pg_url)
    postgres(pg_url).init_schema()
    return pg_url


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
