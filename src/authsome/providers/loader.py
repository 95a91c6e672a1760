"""Load provider definitions: bundled JSON, overridden by the user's own files.

A broken user file is reported (path and field) and skipped; every other provider
still loads. Definitions are structured lazily, one file at a time, so a command that
needs one provider does not pay for the whole catalog.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import cattrs

from authsome import paths
from authsome.errors import ProviderError, UnknownProvider
from authsome.providers.compat import read_definition_text, upgrade_legacy
from authsome.providers.model import AUTH_TYPES, FLOWS, Provider
from authsome.providers.rules import (
    BUNDLED_DIR,
    custom_files,
    json_files,
    spelled,
    writable_by_others,
)
from authsome.providers.validate import (
    check_header_fields,
    check_oauth_choices,
    check_provider,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
KNOWN_FIELDS = {a.name for a in Provider.__attrs_attrs__ if not a.metadata.get("internal")}

_converter = cattrs.Converter(forbid_extra_keys=False)


def parse_definition(data: Any, *, path: str | None = None, source: str = "custom") -> Provider:
    """Turn a decoded JSON definition into a checked Provider, or raise ProviderError."""
    if not isinstance(data, dict):
        raise ProviderError("a provider definition must be a JSON object", path)
    data = upgrade_legacy(data)
    for field, allowed in (("auth_type", AUTH_TYPES), ("flow", FLOWS)):
        if data.get(field) not in allowed:
            raise ProviderError(f"must be one of {', '.join(allowed)}", path, field)
    check_oauth_choices(data.get("oauth"), path)
    check_header_fields(data, path)
    known = {k: v for k, v in data.items() if k in KNOWN_FIELDS}
    extra = {k: v for k, v in data.items() if k not in KNOWN_FIELDS}
    try:
        provider = _converter.structure(known, Provider)
    except cattrs.BaseValidationError as exc:
        first = cattrs.transform_error(exc)[0]
        message, _, where = first.partition(" @ ")
        field = where.removeprefix("$.") if where else None
        raise ProviderError(message, path, field or None) from None
    except (TypeError, ValueError) as exc:
        raise ProviderError(str(exc), path) from None
    import attrs

    provider = attrs.evolve(provider, source=source, path=path, extra=extra, raw=data)
    check_provider(provider)
    return provider


# A long-lived process (the warm agent, serving `authsome list` on each call) reuses
# what it parsed while the file is unchanged; a fresh process starts empty.
_parsed: dict[tuple[str, str], tuple[tuple[int, ...], Provider | ProviderError]] = {}


def load_file(path: str, source: str) -> Provider:
    """The checked Provider in the file at `path`, or raise ProviderError."""
    try:
        st = os.stat(path)
        seen = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        seen = None
    memo = _parsed.get((path, source))
    if seen is not None and memo is not None and memo[0] == seen:
        if isinstance(memo[1], ProviderError):
            raise memo[1].with_traceback(None)  # not a traceback growing with each raise
        return memo[1]
    try:
        provider: Provider | ProviderError = _load_file(path, source)
    except ProviderError as exc:
        provider = exc
    if seen is not None:
        _parsed[(path, source)] = (seen, provider)
    if isinstance(provider, ProviderError):
        raise provider
    return provider


def _load_file(path: str, source: str) -> Provider:
    try:
        with open(path, encoding="utf-8") as f:
            data = read_definition_text(f.read())
    except json.JSONDecodeError as exc:
        raise ProviderError(f"not valid JSON (line {exc.lineno}, column {exc.colno})", path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProviderError(f"cannot read: {exc}", path)
    except RecursionError:  # json's decoder recurses
        raise ProviderError("not valid JSON (nested too deeply)", path) from None
    provider = parse_definition(data, path=path, source=source)
    stem = os.path.splitext(os.path.basename(path))[0]
    if provider.name != stem:
        raise ProviderError(f"name '{provider.name}' does not match the file name", path, "name")
    return provider


class Registry:
    """Every provider, user definitions winning over bundled ones."""

    def __init__(self, home: str | None = None):
        self.home = home or paths.home()
        self._bundled = json_files(BUNDLED_DIR)
        self._custom = custom_files(self.home)
        self._loaded: dict[str, Provider] = {}
        self._errors: dict[str, ProviderError] = {}

    def names(self) -> list[str]:
        return sorted(set(self._bundled) | set(self._custom))

    def _load(self, name: str) -> Provider | None:
        if name in self._loaded:
            return self._loaded[name]
        if name in self._errors:
            return None
        try:
            if name in self._custom:
                path = self._custom[name]
                if writable_by_others(path):
                    raise ProviderError(
                        "writable by other users, so refused: it decides where your tokens "
                        f"go (chmod 600 {path})",
                        path,
                    )
                provider = load_file(path, "custom")
            else:
                provider = load_file(self._bundled[name], "bundled")
        except ProviderError as exc:
            self._errors[name] = exc
            return None
        self._loaded[name] = provider
        return provider

    def resolve(self, name: str) -> str:
        """The provider's name as spelled in the catalog: exact, or the one name that
        matches ignoring case (`HubSpot`); else UnknownProvider with the nearest name."""
        names = self.names()
        found = spelled(name, names)
        if found:
            return found
        import difflib

        near = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise UnknownProvider(f"unknown provider '{name}' ({hint}see `authsome list`)")

    def get(self, name: str) -> Provider:
        """The provider called `name`; UnknownProvider if none, ProviderError if broken."""
        name = self.resolve(name)
        provider = self._load(name)
        if provider is None:
            raise self._errors[name]
        return provider

    def all(self) -> list[Provider]:
        """Every provider that loads; the broken ones are in `errors`."""
        return [p for p in (self._load(n) for n in self.names()) if p is not None]

    def bundled(self, name: str) -> Provider:
        """The bundled definition of `name`, whatever the user's file says."""
        if name not in self._bundled:
            raise UnknownProvider(f"'{name}' is not a bundled provider")
        return load_file(self._bundled[name], "bundled")

    def custom_path(self, name: str) -> str | None:
        return self._custom.get(name)

    @property
    def errors(self) -> list[ProviderError]:
        self.all()
        return [self._errors[n] for n in sorted(self._errors)]

    def warnings(self, names: list[str] | None = None) -> dict[str, list[str]]:
        """User file -> a line per unknown key it holds (the loaded ones among `names`)."""
        out: dict[str, list[str]] = {}
        for name in self.names() if names is None else names:
            provider = self._load(name) if name in self._custom else None
            if provider is not None and provider.path:
                from authsome.providers.unknown import file_warnings  # user files only

                found = file_warnings(provider.raw, provider.path)
                if found:
                    out[provider.path] = found
        return out


def load_registry(home: str | None = None) -> Registry:
    return Registry(home)
