"""The HTTP header that carries a provider's secret, from its raw definition blocks.

One rule for every consumer (helper `headers`, `Credential.headers` and so the proxy,
the `headers` adapter, the fast path): it works on plain dicts, so the hot path needs
no attrs. The `api_key` and `oauth` blocks both take `header_name` and `header_prefix`.
"""

from __future__ import annotations

DEFAULT_NAME = "Authorization"
# In the oauth block the default prefix stands for the token's own type (RFC 6750: Bearer).
DEFAULT_PREFIX = "Bearer"
# RFC 9110 §5.6.2 tchar: a field name is one token. A set, not a regex: no `re` on the hot path.
TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _scheme(token_type: str | None) -> str:
    # Token endpoints say "bearer" in any case (RFC 6750 §4 is case-insensitive); send "Bearer".
    return "Bearer" if not token_type or token_type.lower() == "bearer" else token_type


def auth_header(
    auth_type: str,
    api_key_cfg: dict | None,
    secret: str,
    token_type: str | None = "Bearer",
    oauth_cfg: dict | None = None,
) -> tuple[str, str]:
    """The (name, value) of the header that carries `secret` for a provider.

    An empty or null `header_prefix` sends the bare secret.
    """
    cfg = (api_key_cfg if auth_type == "api_key" else oauth_cfg) or {}
    name = cfg.get("header_name") or DEFAULT_NAME
    prefix = cfg.get("header_prefix", DEFAULT_PREFIX)
    if auth_type != "api_key" and prefix == DEFAULT_PREFIX:
        prefix = _scheme(token_type)
    return name, f"{prefix} {secret}" if prefix else secret


def header_field_problem(cfg: object) -> tuple[str, str] | None:
    """(field, message) for a `header_name`/`header_prefix` that cannot go on the wire."""
    if not isinstance(cfg, dict):
        return None
    name = cfg.get("header_name", DEFAULT_NAME)
    if not isinstance(name, str) or not name or not all(c in TCHAR for c in name):
        return "header_name", "must be an HTTP header name (letters, digits, - and the like)"
    prefix = cfg.get("header_prefix", DEFAULT_PREFIX)
    if prefix is not None and (
        not isinstance(prefix, str) or not all(" " <= c <= "~" for c in prefix)
    ):
        return "header_prefix", "must be printable ASCII text (no CR, LF or controls), or null"
    return None
