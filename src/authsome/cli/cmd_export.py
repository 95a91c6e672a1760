"""`authsome export NAME...`: tokens and keys under the provider's env var names."""

from __future__ import annotations

import argparse
import sys

from authsome.cli import output
from authsome.protocol.envfmt import FORMATS, render


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="print tokens as environment variables",
        description="Print the access token (or API key) of each provider under its env var "
        "names. Refresh tokens are never exported.",
        epilog='examples:\n  eval "$(authsome export hubspot --format env)"\n'
        "  authsome export openai anthropic --format dotenv > .env",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("names", nargs="+", metavar="NAME")
    output.add_connection(p)
    p.add_argument("--format", "-f", choices=FORMATS, default="env")
    p.set_defaults(func=run)


def run(args) -> int:
    from authsome.credentials import CredentialService
    from authsome.entrypoints import warn
    from authsome.errors import refuse_inside_run

    refuse_inside_run("authsome export")

    service = CredentialService(warn=warn)
    names = list(dict.fromkeys(output.provider_name(name) for name in args.names))
    for name in names:  # each file's unknown keys once, on stderr: stdout is eval'd
        output.warn_unknown_keys(service.registry, service.registry.get(name))
    variables: dict[str, str] = {}
    for name in names:
        variables.update(service.get(name, args.connection).env)
    sys.stdout.write(render(variables, args.format))
    return 0
