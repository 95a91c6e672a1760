"""Semantic checks on a structured provider (the schema's rules that types cannot say)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from authsome.errors import ProviderError
from authsome.protocol.authheader import header_field_problem
from authsome.providers.matching import check_entry, compile_user_regex
from authsome.providers.model import CLIENT_AUTHS, REQUEST_BODIES, SCOPE_SEPARATORS, Provider

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TEMPLATE_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
ENDPOINTS = (
    "authorization_url",
    "token_url",
    "refresh_url",
    "revocation_url",
    "device_authorization_url",
    "registration_url",
    "metadata_url",
)

# oauth fields with a fixed set of values, the first being the default. Checked on the
# raw JSON: cattrs would report a bad Literal as "unknown error (...)".
OAUTH_CHOICES = {
    "client_auth": (CLIENT_AUTHS, "must be body or basic"),
    "scope_separator": (SCOPE_SEPARATORS, 'must be " " (space) or "," (comma)'),
    "revocation_client_auth": ((None, *CLIENT_AUTHS), "must be body, basic or null"),
    "request_body": (REQUEST_BODIES, "must be form or json"),
    "revocation_body": ((None, *REQUEST_BODIES), "must be form, json or null"),
}


def check_oauth_choices(oauth: Any, path: str | None) -> None:
    """Raise ProviderError naming `oauth.<field>` for a value outside its choices."""
    if not isinstance(oauth, dict):
        return
    for field, (allowed, message) in OAUTH_CHOICES.items():
        if oauth.get(field, allowed[0]) not in allowed:
            raise ProviderError(message, path, f"oauth.{field}")


def check_header_fields(data: dict, path: str | None) -> None:
    """Raise ProviderError naming `<block>.header_name` / `.header_prefix` if unusable.

    On the raw JSON, with the rule the fast path applies, so both refuse the same files.
    """
    for block in ("oauth", "api_key"):
        problem = header_field_problem(data.get(block), api_key=block == "api_key")
        if problem:
            field, message = problem
            raise ProviderError(message, path, f"{block}.{field}")


def fill_for_check(value: str, provider: Provider, field: str) -> str:
    """Replace declared {placeholders} with a sample; an undeclared one is an error."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in provider.templates:
            raise ProviderError(
                f"placeholder {{{m.group(1)}}} is not declared in 'templates'", provider.path, field
            )
        return "example"

    return TEMPLATE_RE.sub(sub, value)


def check_endpoint(url: str, provider: Provider, field: str) -> None:
    filled = fill_for_check(url, provider, field)
    if filled.startswith("https://example") and "{base_url}" in url:
        return
    parts = urlsplit(filled)
    if parts.scheme == "http" and "{" in urlsplit(url).netloc:
        # The host comes from a template: the filled URL is checked at login
        # (templates.check_filled) and before every request (oauth.http.check_endpoint).
        return
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host in LOOPBACK:
        return
    raise ProviderError("must be an https:// URL (http:// only on loopback)", provider.path, field)


def check_provider(p: Provider) -> None:
    if not NAME_RE.match(p.name):
        raise ProviderError("must be lowercase letters, digits, '.', '_' or '-'", p.path, "name")
    if p.schema_version != 1:
        raise ProviderError("unsupported schema_version (this authsome reads 1)", p.path)
    if p.auth_type == "oauth2":
        if p.oauth is None:
            raise ProviderError("required for auth_type oauth2", p.path, "oauth")
        if p.flow == "api_key":
            raise ProviderError("oauth2 providers need an OAuth flow", p.path, "flow")
        for name in ENDPOINTS:
            url = getattr(p.oauth, name)
            if url:
                check_endpoint(url, p, f"oauth.{name}")
        if p.oauth.resource and (
            urlsplit(p.oauth.resource).fragment or "://" not in p.oauth.resource
        ):
            # RFC 8707 §2: an absolute URI without a fragment
            raise ProviderError(
                "must be an absolute URI without #fragment", p.path, "oauth.resource"
            )
        if p.flow != "dcr_pkce" and not p.oauth.metadata_url and not p.oauth.token_url:
            raise ProviderError("required", p.path, "oauth.token_url")
    elif p.flow != "api_key":
        raise ProviderError("api_key providers use flow api_key", p.path, "flow")
    if p.api_key and p.api_key.basic:
        if p.api_key.basic_user is not None and p.api_key.basic_user_prompt is not None:
            raise ProviderError(
                "give basic_user or basic_user_prompt, not both", p.path, "api_key.basic_user"
            )
        if (p.api_key.header_prefix or "").lower() != "basic" or p.api_key.query_param:
            raise ProviderError(
                "a Basic key needs header_prefix Basic (and no query_param)",
                p.path,
                "api_key.header_prefix",
            )
        if ":" in (p.api_key.basic_user or ""):
            raise ProviderError("a user name cannot hold ':'", p.path, "api_key.basic_user")
    if p.api_key and p.api_key.key_pattern:
        try:
            compile_user_regex(p.api_key.key_pattern)
        except re.error as exc:
            raise ProviderError(f"bad regex: {exc}", p.path, "api_key.key_pattern")
    for key, var in p.env.items():
        if not ENV_RE.match(var):
            raise ProviderError(
                f"'{var}' is not an environment variable name", p.path, f"env.{key}"
            )
    for i, entry in enumerate(p.api_url):
        problem = check_entry(fill_for_check(entry, p, f"api_url[{i}]"))
        if problem:
            raise ProviderError(problem, p.path, f"api_url[{i}]")
    if p.docs_url:
        check_endpoint(p.docs_url, p, "docs_url")
    if p.mcp is not None:
        check_endpoint(p.mcp.url, p, "mcp.url")
    if p.verified is not None:
        check_verified(p)


def check_verified(p: Provider) -> None:
    """`verified`: a real calendar date and the https page the check was made against."""
    assert p.verified is not None
    try:
        valid = DATE_RE.match(p.verified.date) and date.fromisoformat(p.verified.date)
    except ValueError:
        valid = False
    if not valid:
        raise ProviderError("must be a date as YYYY-MM-DD", p.path, "verified.date")
    source = urlsplit(p.verified.source)
    if source.scheme != "https" or not source.hostname:
        message = "must be the https:// URL of the page checked"
        raise ProviderError(message, p.path, "verified.source")
