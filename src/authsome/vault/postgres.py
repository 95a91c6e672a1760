"""The shared vault backend on PostgreSQL (psycopg 3): the same five verbs as FileBackend.

The database only ever holds what the file vault holds on disk: opaque sealed blobs
keyed by (kind, name), and the header with the wrapped data key. Encryption stays in
`Vault`, on the client. Every statement runs in autocommit (one statement is atomic);
multi-record work (`vault migrate`) runs in one transaction.

Locks are session-level advisory locks keyed by a hash of kind + name, taken on this
process's connection. PostgreSQL drops them when that session ends: a killed process's
socket closes at once; a machine that vanishes is noticed by TCP keepalive, which we
ask the server to run at a short interval. No lease or timeout of our own.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from authsome.errors import AuthsomeError, TimedOut, VaultUnavailable
from authsome.vault.backends import redact
from authsome.vault.pgschema import OWNERSHIP, SCHEMA_VERSION, ownership_problem

try:
    import psycopg
    from psycopg import errors as pgerrors
except ImportError:  # the optional extra is not installed
    psycopg = None  # type: ignore[assignment]

SCHEMA = "authsome"  # the tables live in this schema (spelled out in the SQL)
CONNECT_TIMEOUT = 5  # seconds; libpq's own connect timeout
LOCK_WAIT = "120s"  # how long a waiter queues behind a live holder before giving up
STATEMENT_WAIT = "5s"  # any other statement: a writer holding a table lock cannot hang us
# Set on every session right after it connects (one round trip): a bound on every
# statement and on every lock wait, so an `ACCESS EXCLUSIVE` lock on the records table
# makes `authsome-helper get` answer vault_unavailable within seconds, not hang; and
# server-side TCP keepalive, so a vanished client's session (and its locks) ends in
# ~25 s. Plain SETs, not the `options` startup parameter, so poolers in session mode
# (pgbouncer) accept the connection.
SESSION_SETTINGS = (
    f"SET statement_timeout = '{STATEMENT_WAIT}'; SET lock_timeout = '{STATEMENT_WAIT}'; "
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
    "SET tcp_keepalives_count = 3"
)
# Around an advisory lock, the waits that queueing behind a live holder needs.
LOCK_WAITS = f"SET lock_timeout = '{LOCK_WAIT}'; SET statement_timeout = 0; "
SHORT_WAITS = f"SET statement_timeout = '{STATEMENT_WAIT}'; SET lock_timeout = '{STATEMENT_WAIT}'"


def lock_key(kind: str, name: str) -> int:
    """A signed 64-bit advisory lock key for one record (namespaced to authsome)."""
    digest = hashlib.blake2b(
        b"authsome\x00" + kind.encode() + b"\x00" + name.encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


SCHEMA_LOCK = lock_key("schema", "migrations")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0].strip() if text else type(exc).__name__
    for prefix in ("connection failed: ", "consuming input failed: "):
        if line.startswith(prefix):
            line = line[len(prefix) :]
    return line


class PostgresBackend:
    # Records carry versions checked against this machine's marks (vault/hwm.py): anyone
    # who can write the database could otherwise roll a record back.
    rollback_marks = True

    def __init__(self, url: str):
        if psycopg is None:
            raise VaultUnavailable(
                "the shared vault needs psycopg: pip install 'authsome[postgres]'"
            )
        self.url = url
        self.where = redact(url)
        self._conn = None
        self._ever_connected = False
        self._held = 0  # advisory locks held on the current session
        self._guard = threading.Lock()
        self._thread_locks: dict[int, threading.Lock] = {}

    # -- connection and errors -------------------------------------------------------------
    def _params(self) -> dict:
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(self.url)
        except psycopg.Error:
            raise VaultUnavailable(f"the shared vault URL {self.where} is not valid") from None
        from authsome.vault.pgurl import tls_default

        # libpq's default (`prefer`) falls back to plaintext and checks no certificate:
        # a host on the network gets verify-full unless the URL or PGSSLMODE says otherwise.
        sslmode = tls_default(params, dict(os.environ))
        if sslmode:
            params["sslmode"] = sslmode
        params.setdefault("connect_timeout", CONNECT_TIMEOUT)
        params.setdefault("application_name", "authsome")
        # Client-side keepalive too, so a dead server fails our call instead of hanging it.
        params.setdefault("keepalives", 1)
        params.setdefault("keepalives_idle", 10)
        params.setdefault("keepalives_interval", 5)
        params.setdefault("keepalives_count", 3)
        return params

    def _scrub(self, text: str) -> str:
        password = None
        try:
            password = self._params().get("password")
        except AuthsomeError:
            pass
        password = password or os.environ.get("PGPASSWORD")
        return text.replace(password, "***") if password else text

    def error(self, exc: BaseException, doing: str = "") -> AuthsomeError:
        """One clear line for a psycopg failure (never the password)."""
        reason = self._scrub(_first_line(exc))
        if "root certificate" in reason:
            reason += " (verify-full is the default: name the CA with sslrootcert=/path/ca.pem "
            reason += "or sslrootcert=system in the URL, or PGSSLROOTCERT)"
        if isinstance(exc, (pgerrors.UndefinedTable, pgerrors.InvalidSchemaName)):
            return VaultUnavailable(
                f"the shared vault at {self.where} has no authsome schema: "
                "run `authsome vault init`"
            )
        if isinstance(exc, (pgerrors.LockNotAvailable, pgerrors.QueryCanceled)) and not doing:
            return VaultUnavailable(
                f"the shared vault at {self.where} did not answer within {STATEMENT_WAIT} "
                "(a table lock held by another session?)"
            )
        if isinstance(exc, pgerrors.LockNotAvailable):
            return TimedOut(
                f"waited {LOCK_WAIT} for {doing or 'a lock'} in the shared vault at "
                f"{self.where}: another machine holds it"
            )
        if isinstance(exc, pgerrors.InsufficientPrivilege):
            return VaultUnavailable(f"the shared vault at {self.where} refused access: {reason}")
        if isinstance(exc, psycopg.OperationalError) or (
            isinstance(exc, psycopg.InterfaceError) and self._ever_connected
        ):
            if not self._ever_connected:
                return VaultUnavailable(f"cannot reach the shared vault at {self.where}: {reason}")
            return VaultUnavailable(
                f"lost the connection to the shared vault at {self.where} ({reason}); "
                "the operation was not completed"
            )
        return VaultUnavailable(f"the shared vault at {self.where} failed: {reason}")

    def connection(self, check_schema: bool = True):
        """This process's session (connects on first use; reconnects only when no lock is
        held, so nothing is ever written on a new session believing it holds a lock)."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if conn is not None and self._held:
            raise VaultUnavailable(
                f"lost the connection to the shared vault at {self.where} while holding a "
                "lock; the operation was not completed"
            )
        try:
            conn = psycopg.connect(autocommit=True, **self._params())
            conn.execute(SESSION_SETTINGS)
        except psycopg.Error as exc:
            raise self.error(exc) from None
        self._ever_connected = True
        if check_schema:
            self._check_schema(conn)
        self._conn = conn
        return conn

    def _check_schema(self, conn) -> None:
        try:
            owned = conn.execute(OWNERSHIP).fetchone()
            problem = ownership_problem(owned)
            row = (
                None
                if problem
                else conn.execute("SELECT max(version) FROM authsome.schema_version").fetchone()
            )
        except psycopg.Error as exc:
            conn.close()
            raise self.error(exc) from None
        if problem:
            conn.close()
            raise VaultUnavailable(f"the shared vault at {self.where} is not used: {problem}")
        version = row[0] if row else None
        if version is None or version < SCHEMA_VERSION:
            conn.close()
            raise VaultUnavailable(
                f"the shared vault at {self.where} has schema version {version or 0}, this "
                f"authsome needs {SCHEMA_VERSION}: run `authsome vault init`"
            )
        if version > SCHEMA_VERSION:
            conn.close()
            raise VaultUnavailable(
                f"the shared vault at {self.where} has schema version {version}, made by a "
                f"newer authsome (this one knows {SCHEMA_VERSION}): upgrade authsome"
            )

    def _run(self, sql: str, params: tuple = (), doing: str = ""):
        conn = self.connection()
        try:
            return conn.execute(sql, params)
        except psycopg.Error as exc:
            raise self.error(exc, doing) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the backend verbs -------------------------------------------------------------------
    def read(self, kind: str, name: str) -> bytes | None:
        row = self._run(
            "SELECT blob FROM authsome.records WHERE kind = %s AND name = %s", (kind, name)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, kind: str, name: str, blob: bytes) -> None:
        self._run(
            "INSERT INTO authsome.records (kind, name, blob) VALUES (%s, %s, %s) "
            "ON CONFLICT (kind, name) DO UPDATE SET blob = EXCLUDED.blob, updated_at = now()",
            (kind, name, blob),
        )

    def delete(self, kind: str, name: str) -> bool:
        cur = self._run("DELETE FROM authsome.records WHERE kind = %s AND name = %s", (kind, name))
        return cur.rowcount > 0

    def names(self, kind: str) -> list[str]:
        rows = self._run(
            "SELECT name FROM authsome.records WHERE kind = %s ORDER BY name", (kind,)
        ).fetchall()
        return [r[0] for r in rows]

    def kinds(self) -> list[str]:
        rows = self._run("SELECT DISTINCT kind FROM authsome.records ORDER BY kind").fetchall()
        return [r[0] for r in rows]

    def lock(self, kind: str, name: str) -> AdvisoryLock:
        return AdvisoryLock(self, lock_key(kind, name), f"the lock on {kind}/{name}")

    @contextmanager
    def transaction(self) -> Iterator[PostgresBackend]:
        """All the writes inside commit together or not at all."""
        conn = self.connection()
        try:
            with conn.transaction():
                yield self
        except psycopg.Error as exc:
            raise self.error(exc) from None

    # -- audit ---------------------------------------------------------------------------------
    def audit(self, entry: dict) -> None:
        from authsome.vault import pgaudit

        conn = self.connection()
        try:
            pgaudit.insert(conn, entry)
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def verify_audit(self) -> dict:
        """The audit chain's state (see pgaudit.verify)."""
        from authsome.vault import pgaudit

        conn = self.connection()
        try:
            return pgaudit.verify(conn)
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def tail(
        self, n: int = 20, provider: str | None = None, since: float | None = None
    ) -> list[dict]:
        """The last `n` events (all if n <= 0), filtered in the database, oldest first."""
        rows = self._run(
            "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), event, "
            "provider, connection, host, fields FROM authsome.audit "
            "WHERE (%s::text IS NULL OR provider = %s) "
            "AND (%s::float8 IS NULL OR at >= to_timestamp(%s)) "
            "ORDER BY id DESC LIMIT %s",  # LIMIT NULL: every event
            (provider, provider, since, since, n if n > 0 else None),
        ).fetchall()
        out = []
        for at, event, provider, connection, host, fields in reversed(rows):
            entry = {"time": at, "event": event}
            if provider is not None:
                entry["provider"] = provider
            if connection is not None:
                entry["connection"] = connection
            if host:
                entry["host"] = host
            entry.update(fields or {})
            out.append(entry)
        return out

    # -- schema ----------------------------------------------------------------------------------
    def schema_version(self) -> int:
        conn = self.connection(check_schema=False)
        try:
            row = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", ("authsome.schema_version",)
            ).fetchone()
            if not row[0]:
                return 0
            row = conn.execute("SELECT max(version) FROM authsome.schema_version").fetchone()
        except psycopg.Error as exc:
            raise self.error(exc) from None
        return row[0] or 0

    def init_schema(self, client_role: str | None = None) -> tuple[int, int]:
        """Create or upgrade the schema; idempotent and safe to run from many machines at
        once (an advisory transaction lock serializes them). Returns (before, after).
        Refuses a schema someone else owns; `client_role` gets the clients' grants."""
        from authsome.vault import pgschema

        conn = self.connection(check_schema=False)
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                before = pgschema.create_or_upgrade(conn, self.where, client_role)
        except psycopg.Error as exc:
            raise self.error(exc, "the schema lock") from None
        return before, SCHEMA_VERSION

    def counts(self) -> dict[str, int]:
        rows = self._run(
            "SELECT kind, count(*) FROM authsome.records GROUP BY kind ORDER BY kind"
        ).fetchall()
        return {kind: n for kind, n in rows}


class AdvisoryLock:
    """Exclusive across machines (advisory lock) and across this process's threads."""

    def __init__(self, backend: PostgresBackend, key: int, label: str):
        self.backend = backend
        self.key = key
        self.label = label

    def __enter__(self) -> AdvisoryLock:
        b = self.backend
        with b._guard:
            local = b._thread_locks.setdefault(self.key, threading.Lock())
        local.acquire()
        try:
            conn = b.connection()
            b._held += 1
            try:
                conn.execute(self._statement())
            except BaseException:
                b._held -= 1
                _short_waits(conn)
                raise
        except psycopg.Error as exc:
            local.release()
            raise b.error(exc, self.label) from None
        except BaseException:
            local.release()
            raise
        return self

    def _statement(self):
        from psycopg import sql

        # The key is our own integer, as a literal: no parameters lets the SETs ride along
        # (one round trip: long waits for the lock, then the short ones again).
        lock = sql.SQL("SELECT pg_advisory_lock({}); ").format(sql.Literal(self.key))
        return sql.SQL(LOCK_WAITS) + lock + sql.SQL(SHORT_WAITS)

    def __exit__(self, *exc: object) -> None:
        b = self.backend
        try:
            conn = b._conn
            if conn is not None and not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except psycopg.Error:
            pass  # the session is gone, and PostgreSQL released the lock with it
        finally:
            b._held -= 1
            b._thread_locks[self.key].release()


def _short_waits(conn) -> None:
    """After a failed lock statement (its trailing SETs did not run), if the session lives."""
    try:
        if not conn.closed:
            conn.execute(SHORT_WAITS)
    except psycopg.Error:
        pass
