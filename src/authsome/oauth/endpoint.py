"""Talking to the token-like endpoints: client authentication, posting, classifying failures.

Every grant (code, refresh, device), revocation and device authorization goes
through `post_form`, so timeouts, TLS trust and error classification are decided once.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

import attrs
import httpx

from authsome.errors import NetworkError, UsageError
from authsome.oauth.http import check_endpoint, describe_transport_error, make_client
from authsome.oauth.responses import parse_token_response
from authsome.oauth.tokens import ClientCredentials, TokenSet

if TYPE_CHECKING:
    from authsome.providers.model import OAuthConfig, Provider


def add_client_auth(
    client_auth: str,
    client: ClientCredentials | None,
    data: dict[str, str],
    headers: dict[str, str],
) -> None:
    """RFC 6749 §2.3.1: `basic` puts id and secret in HTTP Basic, `body` in the form.

    A public client (no secret) always sends just client_id in the form (§3.2.1).
    """
    if client is None:
        return
    if client.client_secret and client_auth == "basic":
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return
    data["client_id"] = client.client_id
    if client.client_secret:
        data["client_secret"] = client.client_secret


def post_form(
    url: str,
    data: dict[str, str],
    *,
    what: str,
    headers: dict[str, str] | None = None,
    http: httpx.Client | None = None,
    json_body: bool = False,
) -> httpx.Response:
    """POST a form (or, with `json_body`, the same fields as a JSON object); transport
    failures and HTTP 5xx/429 become NetworkError (transient)."""
    check_endpoint(url, what)
    own = http is None
    http = http or make_client()
    try:
        body = {"json": data} if json_body else {"data": data}
        response = http.post(url, headers=headers or {}, **body)
    except httpx.HTTPError as exc:
        raise NetworkError(describe_transport_error(exc, url))
    finally:
        if own:
            http.close()
    if response.status_code >= 500 or response.status_code == 429:
        raise NetworkError(f"{what} answered HTTP {response.status_code}; try again later")
    return response


def token_request(
    token_url: str | None,
    client_auth: str,
    client: ClientCredentials | None,
    data: dict[str, str],
    *,
    requested_scopes: list[str] | tuple[str, ...] = (),
    previous_refresh_token: str | None = None,
    http: httpx.Client | None = None,
    json_body: bool = False,
) -> TokenSet:
    """One grant at the token endpoint -> TokenSet, or OAuthError / NetworkError."""
    form = dict(data)
    headers: dict[str, str] = {}
    add_client_auth(client_auth, client, form, headers)
    response = post_form(
        token_url or "",
        form,
        what="the token endpoint",
        headers=headers,
        http=http,
        json_body=json_body,
    )
    return parse_token_response(
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
        now=int(time.time()),
        requested_scopes=requested_scopes,
        previous_refresh_token=previous_refresh_token,
    )


def resource_param(cfg: OAuthConfig) -> dict[str, str]:
    """RFC 8707 §2: the `resource` every authorization, token and refresh request carries."""
    return {"resource": cfg.resource} if cfg.resource else {}


# Where a DCR client keeps the endpoints discovered from RFC 8414 metadata, so that
# refresh and revocation find them without fetching the metadata again.
DISCOVERED_KEY = "authsome_endpoints"


def effective_oauth(provider: Provider, client: ClientCredentials | None) -> OAuthConfig:
    """The provider's OAuth config, completed from what a DCR client learned: endpoints
    the definition leaves empty, and the auth method the server registered it with."""
    cfg = provider.oauth
    if cfg is None:
        raise UsageError(f"{provider.name} is not an OAuth provider")
    registration = (client.registration or {}) if client else {}
    found = registration.get(DISCOVERED_KEY)
    fill = {}
    if isinstance(found, dict):
        fill = {k: v for k, v in found.items() if hasattr(cfg, k) and not getattr(cfg, k)}
    method = _AUTH_METHODS.get(registration.get("token_endpoint_auth_method", ""))
    if method:
        fill["client_auth"] = method
    return attrs.evolve(cfg, **fill) if fill else cfg


_AUTH_METHODS = {"client_secret_basic": "basic", "client_secret_post": "body"}
