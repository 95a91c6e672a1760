"""The HTTP header that carries a provider's secret, from its raw definition blocks.

One rule for every consumer (helper `headers`, `Credential.headers` and so the proxy,
the `headers` adapter, the fast path): it works on plain dicts, so the hot path needs
no attrs. The `api_key` and `oauth` blocks both take `header_name` and `header_prefix`.
An `api_key` block may instead name a `query_param` (SerpApi's `api_key`): the key then
goes in the URL's query and in no header.
"""

from __future__ import annotations

DEFAULT_NAME = "Authorization"
# In the oauth block the default prefix stands for the token's own type (RFC 6750: Bearer).
DEFAULT_PREFIX = "Bearer"
# RFC 9110 §5.6.2 tchar: a field name is one token. A set, not a regex: no `re` on the hot path.
TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# A query parameter name we set as is, without percent-encoding (RFC 3986 unreserved).
QUERY_NAME_CHARS = frozenset("-._~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Marks a query parameter where a header name is expected (`injection`); never a tchar.
QUERY_MARK = "?"


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


def query_param(auth_type: str, api_key_cfg: dict | None) -> str | None:
    """The query parameter that carries an API key, or None when a header does."""
    if auth_type != "api_key" or not api_key_cfg:
        return None
    return api_key_cfg.get("query_param") or None


def secret_headers(
    auth_type: str,
    api_key_cfg: dict | None,
    secret: str,
    token_type: str | None = "Bearer",
    oauth_cfg: dict | None = None,
) -> dict[str, str]:
    """The headers that carry `secret`: none when the key goes in a query parameter."""
    if query_param(auth_type, api_key_cfg):
        return {}
    name, value = auth_header(auth_type, api_key_cfg, secret, token_type, oauth_cfg)
    return {name: value}


def secret_query(auth_type: str, api_key_cfg: dict | None, secret: str) -> dict[str, str]:
    """The query parameters that carry `secret` (SerpApi: {"api_key": KEY}), else {}."""
    param = query_param(auth_type, api_key_cfg)
    return {param: secret} if param else {}


def injection(
    auth_type: str,
    api_key_cfg: dict | None,
    secret: str,
    token_type: str | None = "Bearer",
    oauth_cfg: dict | None = None,
) -> tuple[str, str]:
    """What the proxy sets on a request: (header name, value), or for a key that goes
    in the query (QUERY_MARK + parameter name, key)."""
    param = query_param(auth_type, api_key_cfg)
    if param:
        return QUERY_MARK + param, secret
    return auth_header(auth_type, api_key_cfg, secret, token_type, oauth_cfg)


def secret_problem(secret: str) -> str | None:
    """Why a token or key cannot go in an HTTP header field, or None. Fields are bytes:
    Latin-1 text at most (RFC 9110 §5.5). Checked when a secret is stored, so that it is
    refused there with a clear error rather than failing later in the proxy."""
    try:
        secret.encode("latin-1")
    except UnicodeEncodeError:
        return "has characters outside Latin-1, which no HTTP header can carry"
    if any(c < " " or c == "\x7f" for c in secret):
        # CR/LF would split a header (and a git credential line); NUL ends C strings
        return "contains control characters, which no HTTP header can carry"
    return None


def header_field_problem(cfg: object, api_key: bool = True) -> tuple[str, str] | None:
    """(field, message) for a `header_name`/`header_prefix`/`query_param` that cannot go
    on the wire. With `query_param` (api_key block only) the key goes only there, and
    `header_name` is null."""
    if not isinstance(cfg, dict):
        return None
    param = cfg.get("query_param") if api_key else None
    if param is not None:
        if not isinstance(param, str) or not param or not all(c in QUERY_NAME_CHARS for c in param):
            return "query_param", "must be a URL query parameter name (letters, digits, - . _ ~)"
        if cfg.get("header_name", DEFAULT_NAME) is not None:
            return "header_name", "must be null when query_param carries the key"
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
