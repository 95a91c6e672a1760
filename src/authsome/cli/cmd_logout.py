"""`authsome logout NAME`: revoke at the provider where it can (RFC 7009), then forget.

A failed revocation is reported as a warning; the local record is removed anyway
(exit 0), because the user asked to be logged out of this machine.
"""

from __future__ import annotations

import argparse
import sys

from authsome.cli import output


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "logout",
        help="revoke a connection at the provider and forget it",
        description="Revoke the connection's tokens where the provider allows it, then forget it.",
        epilog="examples:\n  authsome logout github --connection work\n"
        "  authsome logout hubspot --no-revoke     forget it here, leave it valid",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="provider name")
    output.add_connection(p)
    p.add_argument("--no-revoke", action="store_true", help="forget it locally, revoke nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from authsome.credentials import CredentialService

    args.name = output.provider_name(args.name)
    service = CredentialService()
    provider = service.registry.get(args.name)
    output.warn_unknown_keys(service.registry, provider)
    result = service.erase(args.name, args.connection, revoke=not args.no_revoke)
    where = f"{provider.display_name} ({args.connection})"
    if result.revoke_error:
        _say(f"warning: could not revoke {where} at the provider: {result.revoke_error}")
        _say(f"Forgot {where} on this machine; revoke it in the provider's settings.")
    elif result.revoked:
        _say(f"Revoked {where} at the provider and forgot it.")
    elif provider.auth_type == "oauth2" and not args.no_revoke:
        _say(
            f"Forgot {where}. {provider.display_name} has no revocation endpoint: "
            "revoke the app's access in its settings if you need to."
        )
    else:
        _say(f"Forgot {where}.")
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
