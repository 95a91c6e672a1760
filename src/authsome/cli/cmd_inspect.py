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
    import attrs
    import cattrs

    from authsome.providers.unknown import DICT_BLOCKS, unknown_keys

    data = cattrs.Converter().unstructure(provider)
    for a in attrs.fields(type(provider)):
        if a.metadata.get("internal"):
            data.pop(a.name, None)
    for optional in ("templates", "mcp"):
        if not data.get(optional):
            data.pop(optional, None)
    ordered = {k: data.pop(k) for k in FIELD_ORDER if k in data}
    ordered.update(data)
    ordered.update(provider.extra)
    # Unknown keys inside a block are kept too (the loader warns about them).
    for key, _ in unknown_keys(provider.raw):
        block, dot, field = key.partition(".")
        if dot and block in DICT_BLOCKS and isinstance(ordered.get(block), dict):
            ordered[block][field] = provider.raw[block][field]
    return ordered


def writes_into(path: str | None) -> bool:
    """Our stdout is the file at `path` (`inspect NAME >> .../NAME.json`)."""
    import os

    if not path:
        return False
    try:
        return os.path.samestat(os.fstat(1), os.stat(path))
    except OSError:
        return False


def run(args) -> int:
    from authsome.providers import load_registry

    registry = load_registry()
    name = registry.resolve(args.name)
    if writes_into(registry.custom_path(name)):
        # Never the override we are writing as our own input: the bundled definition.
        provider = registry.bundled(name)
    else:
        provider = registry.get(name)
        output.warn_unknown_keys(registry, provider)
    output.print_json(definition_dict(provider))
    return 0
