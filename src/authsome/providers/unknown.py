"""Keys a definition file holds that the schema does not know: kept and ignored, as the
schema says, but named (with the nearest known key) so that a typo such as
`oauth.scopez` does not silently fall back to the defaults."""

from __future__ import annotations

from typing import Any

import attrs

from authsome.providers import model

# The blocks whose keys are checked, and the model that lists the known ones.
DICT_BLOCKS = {
    "oauth": model.OAuthConfig,
    "api_key": model.ApiKeyConfig,
    "mcp": model.McpServer,
    "verified": model.Verified,
}
LIST_BLOCKS = {"git_hosts": model.GitHost}
MAP_BLOCKS = {"templates": model.Template}
# Top-level keys outside the attrs model that are still part of the format: read from
# the raw JSON by the docker adapter, or free text for people.
RAW_ONLY = ("docker_registries", "notes")


def field_names(cls: type) -> list[str]:
    return [a.name for a in attrs.fields(cls) if not a.metadata.get("internal")]


def _check(block: Any, cls: type, prefix: str, out: list[tuple[str, str | None]]) -> None:
    if not isinstance(block, dict):
        return  # a wrong type is the schema check's to report
    known = field_names(cls)
    for key in block:
        if key not in known:
            import difflib  # only for a file that has an unknown key: the hot path has none

            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            out.append((f"{prefix}{key}", f"{prefix}{near[0]}" if near else None))


def unknown_keys(data: dict) -> list[tuple[str, str | None]]:
    """(dotted key, nearest known key or None) for each key the schema does not know."""
    out: list[tuple[str, str | None]] = []
    _check({k: v for k, v in data.items() if k not in RAW_ONLY}, model.Provider, "", out)
    for name, cls in DICT_BLOCKS.items():
        _check(data.get(name), cls, f"{name}.", out)
    for name, cls in LIST_BLOCKS.items():
        items = data.get(name)
        for i, item in enumerate(items if isinstance(items, list) else ()):
            _check(item, cls, f"{name}[{i}].", out)
    for name, cls in MAP_BLOCKS.items():
        entries = data.get(name)
        for key, item in (entries if isinstance(entries, dict) else {}).items():
            _check(item, cls, f"{name}.{key}.", out)
    return out


def file_warnings(data: dict, path: str) -> list[str]:
    """The warning lines of the user file at `path`, whose definition is `data`."""
    return [describe(path, key, near) for key, near in unknown_keys(data)]


def describe(path: str | None, key: str, near: str | None) -> str:
    """One warning line: the file, the key, the nearest known key."""
    hint = f" (did you mean '{near}'?)" if near else ""
    where = f"{path}: " if path else ""
    return f"{where}unknown key '{key}'{hint}; kept and ignored"
