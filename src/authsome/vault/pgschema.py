"""The shared vault's schema: migrations, who may own it, and the client role (SQL only).

Ownership: `CREATE SCHEMA IF NOT EXISTS` would adopt a schema someone else made first
(a role with only CREATE on the database can squat `authsome` and later replace its
tables). The schema and everything in it must belong to the role in use or to the
database's owner; `vault init` and every client check that before using it.

The client role (`vault init --client-role NAME`) gets what clients need and no more:
read/write records, read the schema version, and *append* to the audit table (no
UPDATE, DELETE or TRUNCATE), so the audit chain cannot be rewritten with it.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

# version -> statements. Append new versions; never edit a released one.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE authsome.records (
            kind text NOT NULL,
            name text NOT NULL,
            blob bytea NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (kind, name))""",
        """CREATE TABLE authsome.audit (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            host text,
            event text NOT NULL,
            provider text,
            connection text,
            fields jsonb NOT NULL DEFAULT '{}'::jsonb)""",
        "CREATE INDEX audit_provider ON authsome.audit (provider, id)",
    ],
    # Each audit row carries sha256(previous row's chain || this row): see pgaudit.
    2: ["ALTER TABLE authsome.audit ADD COLUMN chain bytea"],
}

# One row: (schema exists, owned by a trusted role, its objects all owned by one, the
# offending owner's name). Trusted: the role in use, or the database's owner.
OWNERSHIP = """
SELECT n.oid IS NOT NULL,
       n.nspowner IN (d.datdba, r.oid),
       NOT EXISTS (SELECT 1 FROM pg_class c
                   WHERE c.relnamespace = n.oid AND c.relowner NOT IN (d.datdba, r.oid)),
       coalesce(pg_get_userbyid(n.nspowner), '')
FROM pg_database d
JOIN pg_roles r ON r.rolname = current_user
LEFT JOIN pg_namespace n ON n.nspname = 'authsome'
WHERE d.datname = current_database()
"""


def ownership_problem(row: tuple | None) -> str | None:
    """Why the schema must not be used (None when it is absent or owned as it should)."""
    if row is None or not row[0]:
        return None
    _, schema_ok, objects_ok, owner = row
    if not schema_ok:
        return f"its authsome schema is owned by {owner!r}, not by you or the database owner"
    if not objects_ok:
        return "a table in its authsome schema is owned by a role other than the schema's"
    return None


def client_role_statements(role: str, conn) -> list:
    """The role (created with LOGIN when absent) and its grants: no audit rewrites."""
    from psycopg import sql

    r = sql.Identifier(role)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    create = [] if exists else [sql.SQL("CREATE ROLE {} LOGIN").format(r)]
    return [
        *create,
        sql.SQL("GRANT USAGE ON SCHEMA authsome TO {}").format(r),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON authsome.records TO {}").format(r),
        sql.SQL("GRANT SELECT ON authsome.schema_version TO {}").format(r),
        sql.SQL("GRANT SELECT, INSERT ON authsome.audit TO {}").format(r),
        sql.SQL("GRANT USAGE ON SEQUENCE authsome.audit_id_seq TO {}").format(r),
        sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON authsome.audit FROM {}").format(r),
    ]


def create_or_upgrade(conn, where: str, client_role: str | None) -> int:
    """Inside init's transaction (under its advisory lock): refuse a schema someone else
    owns, create or migrate it, grant the client role. Returns the version before."""
    import os

    from authsome import __version__
    from authsome.errors import VaultUnavailable

    problem = ownership_problem(conn.execute(OWNERSHIP).fetchone())
    if problem:
        raise VaultUnavailable(
            f"the shared vault at {where} is not used: {problem}; "
            "drop that schema (after a look at it) and run init again"
        )
    conn.execute("CREATE SCHEMA IF NOT EXISTS authsome")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS authsome.schema_version ("
        "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), "
        "applied_by text)"
    )
    before = conn.execute("SELECT coalesce(max(version), 0) FROM authsome.schema_version")
    before = before.fetchone()[0]
    if before > SCHEMA_VERSION:
        raise VaultUnavailable(
            f"the shared vault at {where} has schema version {before}, made by "
            "a newer authsome: upgrade authsome"
        )
    for version in range(before + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO authsome.schema_version (version, applied_by) VALUES (%s, %s)",
            (version, f"authsome {__version__} on {os.uname().nodename}"),
        )
    if client_role:
        for statement in client_role_statements(client_role, conn):
            conn.execute(statement)
    return before
