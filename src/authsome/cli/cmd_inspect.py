"""`authsome inspect NAME`: the effective definition, ready to save and edit as an override."""

from __future__ import annotations

import argparse

from authsome.cli import output

# The definition's fields in the SPEC's (§3) order; others follow in their own order.
FIELD_ORDER = (
    "schema_version",
    "name",
    "display_name",
    "description",
    "auth_type",
    "flow",
    "api_url",
    "oauth",
    "api_key",
    "env",
    "git_hosts",
    "docs_url",
)


def register(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="print a provider's effective definition as JSON",
        description="Print the effective provider definition (save it to "
        "$AUTHSOME_HOME/providers/NAME.json and edit it to override).",
        epilog="example:\n  authsome inspect hubspot > ~/.authsome/providers/hubspot.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=run)


def definition_dict(provider) -> dict:
    """The provider as its JSON file would hold it, unknown fields included."""
    import cattrs

    data = cattrs.Converter().unstructure(provider)
    for internal in ("source", "path", "extra"):
        data.pop(internal, None)
    for optional in ("templates", "mcp"):
        if not data.get(optional):
            data.pop(optional, None)
    ordered = {k: data.pop(k) for k in FIELD_ORDER if k in data}
    ordered.update(data)
    ordered.update(provider.extra)
    return ordered


def run(args) -> int:
    from authsome.providers import load_registry

    output.print_json(definition_dict(load_registry().get(args.name)))
    return 0
