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
