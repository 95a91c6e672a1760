"""A private PostgreSQL cluster for the shared-vault tests, from Debian's packages.

One cluster per session: initdb in a temporary directory, loopback TCP on a random
port plus a unix socket in that directory, password (scram) auth for the `authsome`
role the tests connect as. initdb refuses to run as root, so as root the server runs
as the `postgres` system user that Debian's package creates. Each test gets a fresh
database. Skips only when PostgreSQL is absent and cannot be installed.
"""

from __future__ import annotations

import base64
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.fixtures import auth_server  # noqa: F401

psycopg = pytest.importorskip("psycopg", reason="the shared vault tests need psycopg")

ROLE = "authsome"


def _bin_dir() -> str | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return os.path.dirname(found[-1]) if found else None


def _install() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        if subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode != 0:
            return


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bin_dir: str, root: str, port: int, password: str):
        self.bin = bin_dir
        self.root = root
        self.data = os.path.join(root, "data")
        self.port = port
        self.password = password
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_owner, *cmd], capture_output=True, text=True, timeout=timeout
        )

    def admin(self):
        """A superuser session over the unix socket (trust auth, local only)."""
        return psycopg.connect(
            host=self.root, port=self.port, user="admin", dbname="postgres", autocommit=True
        )

    def url(self, dbname: str, password: bool = True) -> str:
        auth = f"{ROLE}:{self.password}" if password else ROLE
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def dump(self, dbname: str) -> str:
        """pg_dump of one database (data and schema), as text."""
        res = subprocess.run(
            [
                os.path.join(self.bin, "pg_dump"),
                "-h",
                self.root,
                "-p",
                str(self.port),
                "-U",
                "admin",
                dbname,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        _install()
        bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries are not in /usr/lib/postgresql/*/bin and "
            "`apt-get install postgresql` failed (or we are not root)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root needs runuser to start PostgreSQL as another user")
    root = tempfile.mkdtemp(prefix="authsome-pg-")
    os.chmod(root, 0o755)  # the postgres user reads the socket directory
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(bin_dir, root, free_port(), "pg-" + secrets.token_hex(12))
    pwfile = os.path.join(root, "pw")
    Path(pwfile).write_text(secrets.token_hex(16) + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    res = cluster.run(
        os.path.join(bin_dir, "initdb"),
        "-D",
        cluster.data,
        "-U",
        "admin",
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-sync",
    )
    assert res.returncode == 0, res.stderr
    opts = (
        f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    res = cluster.run(
        os.path.join(bin_dir, "pg_ctl"),
        "-D",
        cluster.data,
        "-o",
        opts,
        "-l",
        os.path.join(root, "server.log"),
        "-w",
        "start",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    try:
        with cluster.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{cluster.password}'")
        yield cluster
    finally:
        cluster.run(os.path.join(bin_dir, "pg_ctl"), "-D", cluster.data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_db(pg) -> Iterator[str]:
    """A fresh database owned by the `authsome` role; yields its name."""
    from authsome.vault import backends

    name = "t_" + secrets.token_hex(6)
    with pg.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
    try:
        yield name
    finally:
        for backend in backends._shared.values():
            backend.close()
        backends._shared.clear()
        with pg.admin() as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


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
