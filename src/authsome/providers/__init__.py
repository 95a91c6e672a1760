"""Provider definitions: schema, loading, host matching.

Attributes load lazily so that `authsome.providers.matching` stays import-light.
"""

from __future__ import annotations

_EXPORTS = {
    "Registry": "authsome.providers.loader",
    "load_registry": "authsome.providers.loader",
    "Provider": "authsome.providers.model",
    "OAuthConfig": "authsome.providers.model",
    "ApiKeyConfig": "authsome.providers.model",
    "GitHost": "authsome.providers.model",
}


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
