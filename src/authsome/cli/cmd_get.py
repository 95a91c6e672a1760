"""`authsome get NAME`: the connection record, secrets masked unless --show-secret."""

from __future__ import annotations

import argparse
import sys

from authsome.cli import output
from authsome.errors import UsageError

SECRET_FIELDS = ("access_token", "api_key")
FIELDS = (
    "provider",
    "connection",
    "status",
    "auth_type",
    "token_type",
    "access_token",
    "api_key",
    "expires_at",
    "expires_in",
    "scopes",
    "params",
)


def register(sub) -> None:
    p = sub.add_parser(
        "get",
        help="show a connection (secrets masked)",
        description="Show a connection record. Secrets are shown as *** unless --show-secret; "
        "--field F prints one field raw. Refresh tokens are never printed.",
        epilog="examples:\n  authsome get hubspot --field status\n"
        '  curl -H "Authorization: Bearer $(authsome get hubspot --field access_token)" ...',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME")
    output.add_connection(p)
    p.add_argument("--field", metavar="F", help=f"print one field raw ({', '.join(FIELDS)})")
    p.add_argument("--show-secret", action="store_true", help="show the token or key itself")
    output.add_json(p)
    p.set_defaults(func=run)


def view(record: dict, show_secret: bool, status: str | None = None) -> dict:
    from authsome.records import rfc3339, status_of

    expires_at = record.get("expires_at")
    import time

    data = {
        "provider": record["provider"],
        "connection": record["connection"],
        "status": status or status_of(record),
        "auth_type": record.get("auth_type"),
        "token_type": record.get("token_type"),
        "expires_at": rfc3339(expires_at),
        "expires_in": None if expires_at is None else int(expires_at - time.time()),
        "scopes": list(record.get("scopes") or []),
        "params": dict(record.get("params") or {}),
        "has_refresh_token": bool(record.get("refresh_token")),
    }
    for field in SECRET_FIELDS:
        value = record.get(field)
        if value is not None:
            data[field] = value if show_secret else "***"
    return data


def run(args) -> int:
    from authsome.credentials import CredentialService
    from authsome.entrypoints import warn

    if args.show_secret or args.field in SECRET_FIELDS:
        from authsome.errors import refuse_inside_run

        refuse_inside_run(f"authsome get {'--show-secret' if args.show_secret else '--field'}")
    args.name = output.provider_name(args.name)
    service = CredentialService(warn=warn)
    if args.field == "refresh_token":
        raise UsageError("refresh tokens are never printed")
    if args.field and args.field not in FIELDS:
        raise UsageError(f"unknown field '{args.field}' (one of {', '.join(FIELDS)})")
    # A typo in the user's file (`key_patern`) silently falls back to a default: say so
    # on stderr (stdout is the script's), as every command reading the definition does.
    output.warn_unknown_keys(service.registry, service.registry.get(args.name))
    if args.field in SECRET_FIELDS:
        # A script asking for the token wants one it can use now: refresh if needed.
        cred = service.get(args.name, args.connection)
        value = cred.access_token if args.field == "access_token" else cred.api_key
        if value is None:
            raise UsageError(f"{args.name} has no {args.field}")
        sys.stdout.write(value + "\n")
        return 0
    from authsome.livestatus import current_status

    # Past expiry: the refresh is tried, so that status never says `connected` for a
    # token no one can use (the SPEC's rule), and says `connected` after a good refresh.
    status, record, why = current_status(service, service.record(args.name, args.connection))
    if why:
        warn(why)
    data = view(record, args.show_secret, status)
    if args.field:
        value = data.get(args.field)
        if isinstance(value, list):
            value = " ".join(value)
        elif isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items())
        print("" if value is None else output.visible(value))
        return 0
    if args.json:
        output.print_json(data)
        return 0
    for key, value in data.items():
        if key == "status":
            value = output.status(value)
        elif key == "expires_at" and value:
            from authsome.records import relative

            value = f"{value} ({relative(record.get('expires_at'))})"
        elif isinstance(value, list):
            value = " ".join(value) or "-"
        elif isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items()) or "-"
        print(f"{key:<18} {'-' if value is None else output.visible(value)}")
    return 0
