"""Fill a definition's {placeholders} with a connection's values (per-tenant hosts).

A definition declares each placeholder under `templates` (SPEC §3 extension):

    "templates": {"shop": {"description": "...", "example": "acme", "default": null},
                  "instance": {"description": "...", "from_token": "instance_url"}}

- A value comes from `authsome login NAME --set shop=acme` (`--base-url URL` is
  `--set base_url=URL`), else the template's `default`; it is kept in the connection
  record's `params`, so refresh, revoke, the helper and the proxy see the same hosts.
- `from_token` names a token-response field that carries the value (Salesforce's
  `instance_url`). Login does not ask for it; after the code exchange the response's
  value wins over a `--set` one (the server knows where the account lives); a
  connection keeps it across refreshes.
- Values are host names or URL parts; a scheme and trailing `/` are dropped
  (`https://acme.my.salesforce.com/` -> `acme.my.salesforce.com`). A filled endpoint
  must still be https:// (http:// only on loopback), checked before any request.
- What a value may hold depends on where its placeholder sits (`placeholder_roles`):
  one label of a host (`{dc}.api.mailchimp.com`) takes exactly one DNS label, so
  `dc=evil.test:8443/x` cannot move the host; a whole host (`https://{base_url}/...`)
  takes a host name, optional port and path; a path part (`/{tenant}/`) one segment.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from authsome.errors import UsageError
from authsome.providers.model import Provider
from authsome.providers.rules import fill, template_values
from authsome.providers.validate import ENDPOINTS, LOOPBACK

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/\[\]-]+$")
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+\Z")
LABEL, HOST, SEGMENT = "label", "host", "segment"  # strictest first


def placeholder_roles(provider: Provider) -> dict[str, str]:
    """{placeholder: LABEL | HOST | SEGMENT}: where it sits in the definition's URLs and
    hosts; a placeholder used in two places gets the stricter role."""
    texts = [getattr(provider.oauth, f) for f in ENDPOINTS] if provider.oauth else []
    texts += list(provider.api_url) + [g.host for g in provider.git_hosts]
    roles: dict[str, str] = {}
    order = (LABEL, SEGMENT, HOST)
    for text in texts:
        if not text:
            continue
        body = text.split("://", 1)[1] if "://" in text else text
        authority = body.split("/", 1)[0]
        for m in PLACEHOLDER.finditer(body):
            if m.start() >= len(authority):
                role = SEGMENT
            elif authority == m.group(0) or text.startswith("regex:"):
                role = LABEL if text.startswith("regex:") else HOST
            else:
                role = LABEL
            old = roles.get(m.group(1))
            if old is None or order.index(role) < order.index(old):
                roles[m.group(1)] = role
    return roles


def _label_ok(label: str) -> bool:
    """One LDH label; an `xn--` one must be valid IDNA (punycode that decodes)."""
    if not DNS_LABEL.match(label):
        return False
    if label[2:4] == "--":
        if not label.startswith("xn--"):
            return False  # reserved for IDNA's future prefixes (RFC 5891 4.2.3.1)
        try:
            label.encode("ascii").decode("idna")
        except UnicodeError:
            return False
    return True


def _host_ok(value: str) -> bool:
    """host[:port][/path]: every label LDH (or an IP literal), a port, safe segments."""
    import ipaddress

    authority, _, path = value.partition("/")
    if authority.startswith("["):
        addr, close, port = authority[1:].partition("]")
        try:
            ipaddress.IPv6Address(addr)
        except ValueError:
            return False
        port = port.removeprefix(":") if close and port.startswith(":") else port
    else:
        host, _, port = authority.partition(":")
        if not all(_label_ok(label) for label in host.lower().split(".")):
            return False
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    return not path or all(PATH_SEGMENT.match(s) and s not in (".", "..") for s in path.split("/"))


def check_role(name: str, value: str, role: str) -> str:
    """`value` (normalized) if it fits where `name` sits; UsageError otherwise."""
    from authsome.terminal import visible

    if role == LABEL:
        if _label_ok(value.lower()):
            return value.lower()
        why = "one DNS label (letters, digits, hyphens)"
    elif role == SEGMENT:
        if PATH_SEGMENT.match(value) and value not in (".", ".."):
            return value
        why = "one URL path segment"
    else:
        if _host_ok(value):
            return value
        why = "a host name, optionally with :port and /path"
    raise UsageError(f"'{name}' must be {why}, not {visible(value)!r}")


def missing_params(provider: Provider, params: dict[str, str]) -> list[str]:
    """Templates a login must be given: no value, no default, not filled by the token."""
    return [
        name
        for name, t in provider.templates.items()
        if name not in params and t.default is None and t.from_token is None
    ]


def connection_params(
    provider: Provider, old: dict[str, str], given: dict[str, str]
) -> dict[str, str]:
    """A login's template values: those given over those the connection already has.

    UsageError naming the flag to add when one the login must have is still missing."""
    params = {**old, **given}
    missing = missing_params(provider, params)
    if missing:
        name = missing[0]
        t = provider.templates[name]
        flag = "--base-url HOST" if name == "base_url" else f"--set {name}=VALUE"
        hint = t.description + (f", e.g. {t.example}" if t.example else "")
        raise UsageError(f"{provider.name} needs {flag} ({hint})")
    return params


def check_token_params(provider: Provider, params: dict[str, str]) -> None:
    """Refuse a login whose token response lacked a value a template takes from it."""
    for name, t in provider.templates.items():
        if t.from_token and name not in params and t.default is None:
            raise UsageError(
                f"{provider.display_name}'s token response has no {t.from_token}: "
                f"log in again with --set {name}=VALUE ({t.description})"
            )


def normalize_value(name: str, value: str, role: str = HOST) -> str:
    """A template value as a host or URL part; UsageError if it could escape its place."""
    value = value.strip()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.rstrip("/")
    if not value or not SAFE_VALUE.match(value) or ".." in value:
        raise UsageError(f"'{name}' must be a host name or URL part, not {value!r}")
    return check_role(name, value, role)


def parse_assignments(items: list[str], provider: Provider) -> dict[str, str]:
    """`NAME=VALUE` strings (from --set / --param) -> normalized params for `provider`."""
    out: dict[str, str] = {}
    roles = placeholder_roles(provider)
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise UsageError(f"--set wants NAME=VALUE, not '{item}'")
        if name not in provider.templates:
            takes = ", ".join(provider.templates) or "no values"
            raise UsageError(f"{provider.name} has no placeholder '{name}' (it takes: {takes})")
        out[name] = normalize_value(name, value, roles.get(name, HOST))
    return out


def params_from_token(provider: Provider, params: dict[str, str], extra: dict) -> dict[str, str]:
    """`params` with every `from_token` template filled from the token response's fields."""
    out = dict(params)
    roles = placeholder_roles(provider)
    for name, t in provider.templates.items():
        value = extra.get(t.from_token) if t.from_token else None
        if isinstance(value, str) and value.strip():
            out[name] = normalize_value(name, value, roles.get(name, HOST))
    return out


def fill_provider(provider: Provider, params: dict[str, str] | None) -> Provider:
    """The provider with every declared placeholder replaced (defaults where not given)."""
    if not provider.templates:
        return provider
    values = template_values({n: t.default for n, t in provider.templates.items()}, params)
    oauth = provider.oauth
    if oauth is not None:
        oauth = attrs.evolve(oauth, **{f: fill(getattr(oauth, f), values) for f in ENDPOINTS})
    return attrs.evolve(
        provider,
        oauth=oauth,
        api_url=[fill(u, values) for u in provider.api_url],
        git_hosts=[attrs.evolve(g, host=fill(g.host, values)) for g in provider.git_hosts],
    )


def check_filled(provider: Provider) -> None:
    """Refuse a filled provider whose endpoints are unfilled or not https (loopback aside).

    The definition's own check cannot see the host a template will put there; this one,
    run at login, does, before any credential is sent.
    """
    if provider.oauth is None:
        return
    for field in ENDPOINTS:
        url = getattr(provider.oauth, field)
        if not url:
            continue
        left = PLACEHOLDER.search(url)
        if left:
            raise UsageError(f"{provider.name} needs --set {left.group(1)}=VALUE")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host or not (
            parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)
        ):
            raise UsageError(
                f"{provider.name}: oauth.{field} must be https:// (http:// only on loopback), "
                f"not {parts.scheme}://{parts.netloc}"
            )
