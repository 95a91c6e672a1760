"""The hot path: hand out a valid cached credential without the heavy machinery.

`authsome-helper get`, the git/docker/k8s adapters and the shell worker run on every
git operation and prompt. This module reads the provider's raw JSON and one vault
record, and answers only when the stored secret is good for `min_ttl` more seconds.
Anything else (missing, expired, broken, templated) returns None and the caller takes
the full `credentials` service, which refreshes or raises the precise error.
"""

from __future__ import annotations

import os

from authsome import paths
from authsome.providers.compat import read_definition_text, upgrade_legacy
from authsome.records import CONNECTIONS, slot, usable

BUNDLED_DIR = os.path.join(os.path.dirname(__file__), "providers", "bundled")


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    try:
        data = read_definition_text(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return upgrade_legacy(data)


def provider_raw(name: str, home: str | None = None) -> dict | None:
    """The provider's definition as a raw dict (a user file wins), or None."""
    if "/" in name or name.startswith("."):
        return None
    custom = os.path.join(paths.providers_dir(home), name + ".json")
    if os.path.exists(custom):
        return _read_json(custom)
    return _read_json(os.path.join(BUNDLED_DIR, name + ".json"))


def all_providers_raw(home: str | None = None) -> list[dict]:
    """Every provider's raw definition (user files winning), skipping unreadable ones."""
    names: dict[str, str] = {}
    for directory in (BUNDLED_DIR, paths.providers_dir(home)):
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".json") and not entry.startswith("."):
                names[entry[:-5]] = os.path.join(directory, entry)
    out = []
    for name in sorted(names):
        data = _read_json(names[name])
        if data is not None and data.get("name") == name:
            out.append(data)
    return out


def cached(provider: str, connection: str = "default", min_ttl: float = 60) -> dict | None:
    """The helper-protocol answer for a valid cached credential, or None (use the service)."""
    definition = provider_raw(provider)
    if definition is None:
        return None
    auth_type = definition.get("auth_type")
    env = definition.get("env")
    api_key_cfg = definition.get("api_key")
    if auth_type not in ("oauth2", "api_key") or not isinstance(env, dict):
        return None
    if api_key_cfg is not None and not isinstance(api_key_cfg, dict):
        return None
    from authsome.vault.vault import Vault

    record = Vault().get(CONNECTIONS, slot(provider, connection))
    if record is None or record.get("auth_type") != auth_type or not usable(record, min_ttl):
        return None
    from authsome import audit
    from authsome.protocol.helper import credential_response

    audit.record("read", provider=provider, connection=connection)
    return credential_response(record, auth_type, env, api_key_cfg)


def _fill(text: str, values: dict) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def matchable_providers(home: str | None = None) -> list[dict]:
    """Raw definitions to match hosts against, templates filled per stored connection.

    A templated provider (GitHub Enterprise, Zendesk, ...) has no hosts of its own: it
    appears once per connection, with that connection's values filled in and the
    connection's name under "_connection". Entries still holding a placeholder go.
    """
    out = []
    templated = []
    for data in all_providers_raw(home):
        if isinstance(data.get("templates"), dict) and data["templates"]:
            templated.append(data)
        else:
            out.append(data)
    if not templated:
        return out
    from authsome.vault.vault import Vault

    vault = Vault(home)
    slots = vault.names(CONNECTIONS)
    for data in templated:
        name = data["name"]
        defaults = {
            k: t.get("default")
            for k, t in data["templates"].items()
            if isinstance(t, dict) and t.get("default") is not None
        }
        for entry in slots:
            provider, _, connection = entry.partition(":")
            if provider != name:
                continue
            record = vault.get(CONNECTIONS, entry) or {}
            values = {**defaults, **(record.get("params") or {})}
            filled = dict(data, _connection=connection)
            filled["api_url"] = [
                u
                for u in (_fill(u, values) for u in data.get("api_url") or () if isinstance(u, str))
                if "{" not in u
            ]
            filled["git_hosts"] = [
                {**g, "host": _fill(g["host"], values)}
                for g in data.get("git_hosts") or ()
                if isinstance(g, dict)
                and isinstance(g.get("host"), str)
                and "{" not in _fill(g["host"], values)
            ]
            out.append(filled)
    return out
