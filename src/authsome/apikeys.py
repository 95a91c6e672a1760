"""Checks on API keys before they are stored."""

from __future__ import annotations

from authsome.errors import UsageError
from authsome.protocol.authheader import secret_problem
from authsome.providers.matching import compile_user_regex
from authsome.providers.model import Provider


def check_api_key(provider: Provider, key: str) -> str:
    """The key, stripped; UsageError (never echoing the key) if it is unusable."""
    key = key.strip()
    if not key:
        raise UsageError("the API key is empty")
    if any(c in key for c in "\r\n\0") or not key.isprintable():
        raise UsageError("the API key contains control characters")
    problem = secret_problem(key)
    if problem:
        raise UsageError(f"the API key {problem}")
    pattern = provider.api_key.key_pattern if provider.api_key else None
    if pattern and not compile_user_regex(pattern).search(key):
        raise UsageError(
            f"that does not look like an API key for {provider.display_name} (expected {pattern})"
        )
    return key


def basic_credential(provider: Provider, key: str, user: str | None = None) -> str:
    """base64(user:key) for an API key sent with HTTP Basic (the key checked first; the
    user is the definition's fixed one, else `user`, which must then be given)."""
    import binascii

    key = check_api_key(provider, key)
    cfg = provider.api_key
    assert cfg is not None and cfg.basic
    name = cfg.basic_user if cfg.basic_user is not None else (user or "").strip()
    if not name:
        raise UsageError(f"{provider.display_name} needs a user name: {cfg.basic_user_prompt}")
    if ":" in name or not name.isprintable():
        raise UsageError("the user name cannot hold ':' or control characters")
    return binascii.b2a_base64(f"{name}:{key}".encode(), newline=False).decode()
