"""`authsome list`: every provider, its source, and each connection with its status."""

from __future__ import annotations

import argparse
import sys

from authsome.cli import output
from authsome.errors import VaultUnavailable


def register(sub) -> None:
    p = sub.add_parser(
        "list",
        help="list providers and connections",
        description="Every provider: name, display name, auth type, source, connections.",
        epilog="example:\n  authsome list --json | jq '.[] | select(.connections != [])'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    output.add_json(p)
    p.add_argument("--connected", action="store_true", help="only providers with a connection")
    p.set_defaults(func=run)


def collect(connected_only: bool = False) -> list[dict]:
    from authsome.credentials import CredentialService

    service = CredentialService()
    registry = service.registry
    for error in registry.errors:
        output.warn(f"skipping a broken provider file: {error}")
    for lines in registry.warnings().values():
        for line in lines:
            output.warn(line)
    try:
        summaries = service.list()
    except VaultUnavailable as exc:
        output.warn(f"connections not shown: {exc}")
        summaries = []
    for problem in getattr(service, "unreadable", ()):
        output.warn(f"skipped: {problem}")
    by_provider: dict[str, list[dict]] = {}
    for s in summaries:
        by_provider.setdefault(s.provider, []).append(
            {
                "connection": s.connection,
                "status": s.status,
                "expires_at": s.expires_at,
            }
        )
    from authsome.records import rfc3339

    items = []
    for p in registry.all():
        conns = [{**c, "expires_at": rfc3339(c["expires_at"])} for c in by_provider.get(p.name, [])]
        if connected_only and not conns:
            continue
        items.append(
            {
                "name": p.name,
                "display_name": p.display_name,
                "auth_type": p.auth_type,
                "source": p.source,
                "connections": conns,
            }
        )
    return items


def run(args) -> int:
    items = collect(args.connected)
    if args.json:
        output.print_json(items)
        return 0
    if not items:
        print("no connections yet: log in with `authsome login NAME`", file=sys.stderr)
        return 0
    rows = []
    for item in items:
        conns = ", ".join(
            f"{c['connection']} ({output.status(c['status'])})" for c in item["connections"]
        )
        text = [output.visible(item[k]) for k in ("name", "display_name", "auth_type", "source")]
        rows.append([*text, conns or "-"])
    output.table(rows, ["NAME", "DISPLAY NAME", "AUTH", "SOURCE", "CONNECTIONS"])
    return 0
