"""Fill a definition's {placeholders} with a connection's values (per-tenant hosts)."""

from __future__ import annotations

import re

import attrs

from authsome.errors import UsageError
from authsome.providers.model import Provider

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/\[\]-]+$")


def missing_params(provider: Provider, params: dict[str, str]) -> list[str]:
    return [
        name for name, t in provider.templates.items() if name not in params and t.default is None
    ]


def _fill(text: str | None, values: dict[str, str]) -> str | None:
    if text is None:
        return None
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def normalize_value(name: str, value: str) -> str:
    if name == "base_url":
        value = value.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not SAFE_VALUE.match(value):
        raise UsageError(f"'{name}' must be a host name or URL part, not '{value}'")
    return value


def fill_provider(provider: Provider, params: dict[str, str] | None) -> Provider:
    """The provider with every declared placeholder replaced (defaults where not given)."""
    if not provider.templates:
        return provider
    values = {n: t.default for n, t in provider.templates.items() if t.default is not None}
    values.update(params or {})
    oauth = provider.oauth
    if oauth is not None:
        oauth = attrs.evolve(
            oauth,
            **{
                f: _fill(getattr(oauth, f), values)
                for f in (
                    "authorization_url",
                    "token_url",
                    "revocation_url",
                    "device_authorization_url",
                    "registration_url",
                    "metadata_url",
                )
            },
        )
    return attrs.evolve(
        provider,
        oauth=oauth,
        api_url=[_fill(u, values) for u in provider.api_url],
        git_hosts=[attrs.evolve(g, host=_fill(g.host, values)) for g in provider.git_hosts],
    )
