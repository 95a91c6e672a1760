"""The shared vault's TLS default and how its URL is read and shown (#19 items 1 and 5).

A host on the network gets `sslmode=verify-full` unless the URL says otherwise: shown
with a fake server that refuses TLS (it would receive the password under libpq's own
default, `prefer`) and with the private cluster serving TLS from a test CA. Messages
name the vault as host/dbname, read the way libpq reads the URL.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest

from authsome.vault.pgurl import describe, has_secret, parse
from support.pki import make_pki

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
SECRET = "Tls-Secret-pw-0xC0FFEE"


class NoTlsServer:
    """Speaks just enough of the PostgreSQL protocol to be a server on the path that
    answers "no TLS" and asks for a cleartext password; keeps every byte it receives."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self._session(conn)
                except OSError:
                    pass

    def _read(self, conn, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        self.received += data
        return data

    def _session(self, conn):
        while True:
            (length,) = struct.unpack("!I", self._read(conn, 4))
            body = self._read(conn, length - 4)
            code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
            if code in (SSL_REQUEST, GSS_REQUEST):
                conn.sendall(b"N")
                continue
            break  # the startup message
        conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        kind = self._read(conn, 1)
        (length,) = struct.unpack("!I", self._read(conn, 4))
        self._read(conn, length - 4)
        if kind == b"p":
            conn.sendall(b"E" + struct.pack("!I", 4 + 7) + b"SFATAL\x00\x00")

    def close(self):
        self.sock.close()


@pytest.fixture
def no_tls_server():
    server = NoTlsServer()
    yield server
    server.close()


def network_url(port: int, dbname: str = "vault", extra: str = "") -> str:
    """A URL naming a host on the network (db.test) whose address is loopback
    (hostaddr): libpq decides TLS by the name, the traffic stays on this machine."""
    return f"postgresql://authsome:{SECRET}@db.test:{port}/{dbname}?hostaddr=127.0.0.1{extra}"


def test_the_password_never_reaches_a_server_that_refuses_tls(home, run, no_tls_server):
    env = {**os.environ, "AUTHSOME_VAULT_URL": network_url(no_tls_server.port), "HOME": str(home)}
    res = run("authsome", "vault", "status", env=env)
    assert res.returncode == 6, res.stderr
    assert res.stderr.count("\n") == 1 and SECRET not in res.stderr
    assert "db.test:" in res.stderr and "postgresql://" not in res.stderr
    assert SECRET.encode() not in no_tls_server.received
    assert no_tls_server.received  # it was asked (for TLS), and said no


def test_an_explicit_weaker_mode_is_the_users_choice_and_doctor_warns(home, run, no_tls_server):
    """The same server does get the password when the URL asks for `prefer` (so the test
    above can fail), and doctor names the weak mode."""
    url = network_url(no_tls_server.port, extra="&sslmode=prefer")
    env = {**os.environ, "AUTHSOME_VAULT_URL": url, "HOME": str(home)}
    run("authsome", "vault", "status", env=env)
    assert SECRET.encode() in no_tls_server.received
    res = run("authsome", "doctor", env=env)
    assert "shared vault TLS: sslmode=prefer is set for a host on the network" in res.stdout
    assert SECRET not in res.stdout + res.stderr


@pytest.fixture
def tls_cluster(pg, tmp_path):
    pki = make_pki(tmp_path / "pki", ["db.test"])
    pg.enable_tls(pki["cert"], pki["key"])
    try:
        yield pki
    finally:
        pg.disable_tls()


def test_verify_full_by_default_against_a_tls_server(pg, pg_db, home, tls_cluster, tmp_path):
    from authsome.errors import VaultUnavailable
    from authsome.vault.postgres import PostgresBackend

    url = f"postgresql://authsome:{pg.password}@db.test:{pg.port}/{pg_db}?hostaddr=127.0.0.1"
    good = PostgresBackend(url + f"&sslrootcert={tls_cluster['ca']}")
    try:
        conn = good.connection(check_schema=False)
        assert conn.pgconn.ssl_in_use
        modes = {o.keyword: o.val for o in conn.pgconn.info}
        assert modes[b"sslmode"] == b"verify-full"
    finally:
        good.close()
    other_ca = make_pki(tmp_path / "other", ["db.test"])["ca"]
    for bad in (url + f"&sslrootcert={other_ca}", url):  # another CA; no CA named at all
        backend = PostgresBackend(bad)
        with pytest.raises(VaultUnavailable) as info:
            backend.connection(check_schema=False)
        assert pg.password not in str(info.value) and "db.test" in str(info.value)
    assert "sslrootcert" in str(info.value)  # says how to name the CA


def test_doctor_reports_the_tls_mode(home, run, pg, pg_db, tls_cluster):
    url = f"postgresql://authsome@db.test:{pg.port}/{pg_db}?hostaddr=127.0.0.1"
    url += f"&sslrootcert={tls_cluster['ca']}"
    env = {**os.environ, "AUTHSOME_VAULT_URL": url, "PGPASSWORD": pg.password}
    assert run("authsome", "vault", "init", env=env).returncode == 0
    res = run("authsome", "doctor", env=env)
    assert "[ok  ] shared vault TLS: sslmode=verify-full (default)" in res.stdout, res.stdout
    assert "[ok  ] shared vault: db.test:" in res.stdout


# -- the URL read as libpq reads it (item 5) -------------------------------------------

LIBPQ_CASES = [
    "postgresql://u:ab?cdSECRET@h/db",  # an unencoded ? belongs to the password
    "postgresql://u@h/db?%70assword=SECRET",  # a percent-encoded key
    "postgresql://u@h:5433/db?sslpassword=SECRET&sslmode=require",
    "postgresql://u:p%40SECRET@h",
    "postgresql://h1:1,h2:2/db",
    "postgresql://[::1]:5432/db",
    "postgresql:///db?host=/run/pg",
    "postgres://h?dbname=x&user=y&password=SECRET",
    "postgresql://h/db?ssl=true",
]


@pytest.mark.parametrize("url", LIBPQ_CASES)
def test_urls_are_read_as_libpq_reads_them(url):
    from psycopg.conninfo import conninfo_to_dict

    assert parse(url) == conninfo_to_dict(url)
    shown = describe(url)
    assert "SECRET" not in shown and "postgresql" not in shown
    assert has_secret(url) == ("SECRET" in url)


def test_messages_name_host_and_database_only(home, run):
    url = "postgresql://u:ab?cdSECRET@127.0.0.1:1/vault"
    env = {**os.environ, "AUTHSOME_VAULT_URL": url}
    res = run("authsome", "vault", "status", env=env)
    assert res.returncode == 6 and "127.0.0.1:1/vault" in res.stderr
    assert "SECRET" not in res.stderr and "cdSECRET" not in res.stderr
    res = run(
        "authsome", "vault", "init", "--url", "postgresql://u@127.0.0.1:1/v?%70assword=SECRET"
    )
    assert "process list" in res.stderr and "SECRET" not in res.stderr + res.stdout
