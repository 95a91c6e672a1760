"""The shared vault's audit table as a hash chain (SQL; runs on a PostgresBackend's session).

Each row's `chain` is sha256(previous row's chain || the row's own text), computed by
the server inside one implicit transaction that first takes an advisory lock, so rows
chain in id order even with many writers. `verify` recomputes every link: a deleted or
edited row breaks the link of the row after it. The hash has no key: a role that may
UPDATE the table could recompute it, which is why clients should use the role
`vault init --client-role` makes (INSERT and SELECT only). Deleting the newest rows
leaves no later link to break; `verify` reports the count so it can be compared.
"""

from __future__ import annotations

import hashlib
import json
import os

AUDIT_LOCK = int.from_bytes(
    hashlib.blake2b(b"authsome\x00audit\x00chain", digest_size=8).digest(), "big", signed=True
)

# The text a row's link covers is the same expression in both statements (written out:
# `v.` columns when writing, the row's own when verifying).
INSERT = """
SELECT pg_advisory_xact_lock({lock});
INSERT INTO authsome.audit (at, host, event, provider, connection, fields, chain)
SELECT v.at, v.host, v.event, v.provider, v.connection, v.fields,
       sha256(coalesce((SELECT chain FROM authsome.audit ORDER BY id DESC LIMIT 1), ''::bytea)
              || convert_to(concat_ws('|', extract(epoch FROM v.at)::text,
                 coalesce(v.host, ''), v.event, coalesce(v.provider, ''),
                 coalesce(v.connection, ''), v.fields::text), 'UTF8'))
FROM (SELECT now() AS at, %s::text AS host, %s::text AS event, %s::text AS provider,
             %s::text AS connection, %s::jsonb AS fields) v
"""

VERIFY = """
SELECT id, chain IS NULL,
       chain = sha256(coalesce(lag(chain) OVER (ORDER BY id), ''::bytea)
              || convert_to(concat_ws('|', extract(epoch FROM at)::text,
                 coalesce(host, ''), event, coalesce(provider, ''),
                 coalesce(connection, ''), fields::text), 'UTF8'))
FROM authsome.audit ORDER BY id
"""


def insert(conn, entry: dict) -> None:
    """Append one event (a ClientCursor: the lock and the insert go in one round trip)."""
    import psycopg

    fields = {
        k: v for k, v in entry.items() if k not in ("time", "event", "provider", "connection")
    }
    params = (
        os.uname().nodename,
        entry["event"],
        entry.get("provider"),
        entry.get("connection"),
        json.dumps(fields),
    )
    psycopg.ClientCursor(conn).execute(INSERT.format(lock=AUDIT_LOCK), params)


def verify(conn) -> dict:
    """{"entries", "unchained" (rows from before the chain), "broken_at" (first id whose
    link does not hold, or None)}."""
    rows = conn.execute(VERIFY).fetchall()
    unchained, chained, broken = 0, False, None
    for row_id, missing, ok in rows:
        if missing and not chained:
            unchained += 1  # written before the chain began (schema version 1)
        elif (missing or not ok) and broken is None:
            broken = row_id
        chained = chained or not missing
    return {"entries": len(rows), "unchained": unchained, "broken_at": broken}
