"""Import credentials users already have in env vars (`login --from-env`, `import FILE`).

A variable maps to a provider through the definition's own names: `env.access_token`,
`env.refresh_token`, and `env.api_key` / `api_key.env_var`. Each provider's values are
checked before anything is stored: an API key against `key_pattern`, an access token
that is a JWT against its `exp` claim (no signature check: we only refuse to store a
token that is already dead, or say so when a refresh token can revive it).
Outcomes name variables and providers, never a value.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable

import attrs

from authsome.errors import AuthsomeError
from authsome.providers.model import Provider

STORED, SKIPPED, REFUSED = "stored", "skipped", "refused"
KINDS = ("access_token", "refresh_token", "api_key")


@attrs.frozen
class Outcome:
    variable: str
    provider: str | None
    result: str  # stored | skipped | refused
    reason: str = ""


def env_names(provider: Provider) -> dict[str, str]:
    """{env var name: kind} for the secrets this provider's definition names."""
    out: dict[str, str] = {}
    if provider.auth_type == "api_key":
        var = provider.secret_env_var
        if var:
            out[var] = "api_key"
        return out
    for kind in ("access_token", "refresh_token"):
        if provider.env.get(kind):
            out[provider.env[kind]] = kind
    return out


def index(providers: Iterable[Provider]) -> dict[str, list[tuple[Provider, str]]]:
    """{env var name: [(provider, kind), ...]} over a set of providers."""
    out: dict[str, list[tuple[Provider, str]]] = {}
    for p in providers:
        for var, kind in env_names(p).items():
            out.setdefault(var, []).append((p, kind))
    return out


def jwt_expiry(token: str) -> int | None:
    """The `exp` claim of a JWT (epoch seconds), or None if `token` is not a JWT with one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or "alg" not in header or not isinstance(claims, dict):
        return None
    exp = claims.get("exp")
    return int(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _looks_like_token(value: str) -> bool:
    return bool(value) and value.isprintable() and not any(c.isspace() for c in value)


def import_variables(
    service,
    variables: dict[str, str],
    *,
    connection: str = "default",
    providers: list[Provider] | None = None,
    params: dict[str, dict[str, str]] | None = None,
    now: float | None = None,
    keep_connected: bool = False,
) -> list[Outcome]:
    """Store what `variables` hold for known providers; one Outcome per variable.

    `providers` limits the mapping (login NAME --from-env); `params` gives template
    values per provider name. Variables that name no provider are `skipped`. With
    `keep_connected` (import without --force) a connected connection is not replaced:
    a repository's `.env` must not silently swap a login (and lose its refresh token).
    """
    from authsome.providers.templates import missing_params

    known = index(providers if providers is not None else service.registry.all())
    now = time.time() if now is None else now
    outcomes: list[Outcome] = []
    groups: dict[str, tuple[Provider, dict[str, str]]] = {}
    for var, value in variables.items():
        owners = known.get(var)
        if not owners:
            outcomes.append(Outcome(var, None, SKIPPED, "unknown variable"))
        elif len(owners) > 1:
            names = ", ".join(p.name for p, _ in owners)
            outcomes.append(Outcome(var, None, SKIPPED, f"ambiguous: used by {names}"))
        elif not value.strip():
            outcomes.append(Outcome(var, owners[0][0].name, SKIPPED, "empty"))
        else:
            provider, kind = owners[0]
            groups.setdefault(provider.name, (provider, {}))[1][kind] = var
    for name, (provider, found) in groups.items():
        if keep_connected and _connected(service, name, connection):
            why = "already connected (use --force)"
            outcomes += [Outcome(v, name, SKIPPED, why) for v in found.values()]
            continue
        given = (params or {}).get(name, {})
        missing = missing_params(provider, given)
        if missing:
            why = (
                f"needs a value for {{{missing[0]}}}: "
                f"`authsome login {name} --from-env --set {missing[0]}=...`"
            )
            outcomes += [Outcome(v, name, REFUSED, why) for v in found.values()]
            continue
        try:
            note = _store(service, provider, connection, found, variables, given, now)
        except AuthsomeError as exc:
            outcomes += [Outcome(v, name, REFUSED, str(exc)) for v in found.values()]
            continue
        for kind, var in found.items():
            if note is None:
                outcomes.append(Outcome(var, name, SKIPPED, _lonely(provider, kind)))
            else:
                outcomes.append(Outcome(var, name, STORED, note))
    order = {v: i for i, v in enumerate(variables)}
    return sorted(outcomes, key=lambda o: order[o.variable])


def _connected(service, provider: str, connection: str) -> bool:
    from authsome.errors import NotFound
    from authsome.records import status_of

    try:
        return status_of(service.record(provider, connection)) == "connected"
    except NotFound:
        return False


def _lonely(provider: Provider, kind: str) -> str:
    return f"a refresh token alone cannot be used: set {provider.env.get('access_token')} too"


def _store(
    service,
    provider: Provider,
    connection: str,
    found: dict[str, str],
    variables: dict[str, str],
    params: dict[str, str],
    now: float,
) -> str | None:
    """Check and store one provider's values; returns a note, or None if nothing usable."""
    from authsome.errors import UsageError

    if provider.auth_type == "api_key":
        service.store_api_key(
            provider.name, connection, variables[found["api_key"]], event="import", params=params
        )
        return ""
    if "access_token" not in found:
        return None
    from authsome.oauth.tokens import TokenSet

    access = variables[found["access_token"]].strip()
    refresh = variables[found["refresh_token"]].strip() if "refresh_token" in found else None
    for value, what in ((access, "access token"), (refresh, "refresh token")):
        if value is not None and not _looks_like_token(value):
            raise UsageError(f"the {what} contains blanks or control characters")
    expires_at = jwt_expiry(access)
    note = ""
    if expires_at is not None and expires_at <= now:
        ago = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires_at))
        if not refresh:
            raise UsageError(f"the access token expired at {ago} (JWT exp) and no refresh token")
        note = f"access token expired at {ago}; the refresh token renews it on first use"
    if refresh and service.client(provider.name) is None:
        # A refresh token is only usable with the client it was issued to.
        note = (note + "; " if note else "") + (
            "no OAuth client is stored for it yet, so it cannot be refreshed until one is"
        )
    tokens = TokenSet(access_token=access, refresh_token=refresh or None, expires_at=expires_at)
    service.store_token(provider.name, connection, tokens, params=params, event="import")
    return note
