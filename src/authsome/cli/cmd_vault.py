"""`authsome vault init|migrate|status`: set up and fill a shared vault on PostgreSQL."""

from __future__ import annotations

import argparse
import sys

from authsome.cli import output
from authsome.errors import UsageError, VaultUnavailable

NAMED_KINDS = ("connections", "clients")

EPILOG = """examples:
  export AUTHSOME_VAULT_URL=postgresql://authsome@db.internal/authsome   (password: ~/.pgpass)
  authsome vault init                    create or upgrade the schema
  authsome vault migrate                 copy this machine's local vault into it
  authsome vault status
"""


def register(sub) -> None:
    p = sub.add_parser(
        "vault",
        help="set up a shared vault on PostgreSQL",
        description="Create the shared vault's schema, copy a local vault into it, or show "
        "its state. The URL comes from --url/--to, else AUTHSOME_VAULT_URL, else vault_url "
        "in $AUTHSOME_HOME/config. Records stay encrypted with this machine's vault key.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="vault_action", metavar="ACTION", parser_class=type(p))
    init = actions.add_parser("init", help="create or upgrade the schema (idempotent)")
    init.add_argument("--url", metavar="URL", help="postgresql://user@host/db")
    init.add_argument(
        "--client-role",
        metavar="ROLE",
        help="create (if needed) a role for clients with only what they need: records "
        "read/write, audit append-only (set its password with ALTER ROLE)",
    )
    output.add_json(init)
    init.set_defaults(func=run_init)
    mig = actions.add_parser(
        "migrate",
        help="copy the local vault into the shared one",
        description="Copy every record of the local vault (connections, OAuth clients, git "
        "and docker entries, the key header) into the shared vault in one transaction.",
    )
    mig.add_argument("--to", metavar="URL", help="postgresql://user@host/db")
    mig.add_argument(
        "--overwrite", action="store_true", help="replace records the shared vault already has"
    )
    output.add_json(mig)
    mig.set_defaults(func=run_migrate)
    st = actions.add_parser("status", help="which vault is in use, its schema and contents")
    output.add_json(st)
    st.set_defaults(func=run_status)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _target(url: str | None, flag: str):
    from authsome.vault import backends

    if url:
        backends.check_url(url, flag)
        from authsome.vault.pgurl import has_secret

        if has_secret(url):
            output.warn(
                f"a password in {flag} is visible to other users in the process list; "
                "prefer PGPASSWORD or ~/.pgpass"
            )
        return backends.postgres(url)
    shared = backends.shared_backend()
    if shared is None:
        raise UsageError(
            f"no shared vault configured: pass {flag} postgresql://... or set "
            "AUTHSOME_VAULT_URL (or vault_url in $AUTHSOME_HOME/config)"
        )
    return shared


def run_init(args) -> int:
    import re

    target = _target(args.url, "--url")
    role = args.client_role
    if role is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise UsageError("--client-role takes a lower-case role name (letters, digits, _)")
    before, after = target.init_schema(client_role=role)
    if role and not args.json:
        print(f"Client role {role}: records read/write, audit append-only (no UPDATE/DELETE)")
    if args.json:
        output.print_json(
            {"url": target.where, "before": before, "version": after, "client_role": role}
        )
    elif before == 0:
        print(f"Created the authsome schema (version {after}) at {target.where}")
    elif before == after:
        print(f"The schema at {target.where} is current (version {after})")
    else:
        print(f"Upgraded the schema at {target.where} from version {before} to {after}")
    return 0


def run_migrate(args) -> int:
    from authsome import paths
    from authsome.vault.migrate import migrate

    target = _target(args.to, "--to")
    home = paths.home()
    report = migrate(home, target, overwrite=args.overwrite)
    target.audit({"event": "vault_migrate", "records": report.total, "header": report.header})
    if args.json:
        output.print_json(
            {
                "url": report.target,
                "copied": report.copied,
                "skipped": report.skipped,
                "header": report.header,
                "key_source": report.key_source,
            }
        )
        return 0
    if report.header == "none":
        print(f"Nothing to copy: the local vault in {paths.vault_dir(home)} is empty")
        return 0
    print(f"Copied {report.total} records from {paths.vault_dir(home)} to {report.target}:")
    for kind in sorted(set(report.copied) | set(report.skipped)):
        names = report.copied.get(kind, [])
        # git and docker entries are named by a hash of the URL: only their count helps.
        shown = ", ".join(names) if kind in NAMED_KINDS else ""
        print(f"  {kind:<12} {len(names):>3}  {shown}".rstrip())
    if report.header == "copied":
        print(f"  key header   copied: the key from {report.key_source} opens the shared vault")
    else:
        print("  key header   kept the shared vault's; records re-sealed under its data key")
    for kind, names in sorted(report.skipped.items()):
        print(
            f"Skipped (already in the shared vault; --overwrite replaces): {kind}: "
            + ", ".join(names)
        )
    if report.key_source in ("keyring", "key file"):
        output.warn(
            f"the shared vault's key is this machine's {report.key_source} key; other machines "
            "need the same key (AUTHSOME_MASTER_KEY or AUTHSOME_PASSPHRASE suit a team)"
        )
    print(
        "Next: set AUTHSOME_VAULT_URL (or vault_url in $AUTHSOME_HOME/config) on every machine; "
        "custom provider definitions in providers/ are not in the vault, copy them too."
    )
    return 0


def run_status(args) -> int:
    from authsome import paths
    from authsome.records import CONNECTIONS
    from authsome.vault import backends
    from authsome.vault.vault import Vault

    shared = backends.shared_backend()
    vault = Vault()
    if shared is None:
        info = {
            "backend": "file",
            "location": paths.vault_dir(vault.home),
            "connections": len(vault.names(CONNECTIONS)),
        }
    else:
        version = shared.schema_version()
        if version == 0:
            raise VaultUnavailable(
                f"the shared vault at {shared.where} has no authsome schema: "
                "run `authsome vault init`"
            )
        info = {
            "backend": "postgresql",
            "location": shared.where,
            "schema_version": version,
            "records": shared.counts(),
        }
    header = vault.backend.read("meta", "header") is not None
    info["key_header"] = header
    if header:
        vault.data_key()  # raises the one-line reason when this machine's key cannot open it
        info["key_source"] = vault.source.name
    if args.json:
        output.print_json(info)
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        print(f"{key.replace('_', ' ')}: {value}")
    return 0
