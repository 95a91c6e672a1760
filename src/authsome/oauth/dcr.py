"""The `dcr_pkce` flow's first half: RFC 8414 discovery and RFC 7591 registration.

We register a public client (no secret, PKCE) for our loopback redirect URI. The
discovered endpoints travel in the stored client's registration, so refresh and
revocation find them later without fetching the metadata again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import httpx

from authsome import __version__
from authsome.errors import NetworkError, UsageError
from authsome.oauth.endpoint import DISCOVERED_KEY
from authsome.oauth.http import check_endpoint, describe_transport_error, make_client
from authsome.oauth.responses import METADATA_FIELDS, parse_metadata, parse_registration
from authsome.oauth.tokens import ClientCredentials

if TYPE_CHECKING:
    from authsome.providers.model import OAuthConfig


def discover(cfg: OAuthConfig) -> dict[str, str]:
    """The endpoints the metadata names ({} without a metadata_url); each one checked."""
    if not cfg.metadata_url:
        return {}
    url = check_endpoint(cfg.metadata_url, "metadata_url")
    response = _send("GET", url, "the metadata endpoint")
    found = parse_metadata(
        response.status_code, response.headers.get("content-type", ""), response.content
    )
    for field, value in found.items():
        check_endpoint(value, field)
    return found


def with_endpoints(cfg: OAuthConfig, found: dict[str, str]) -> OAuthConfig:
    """The definition's own endpoints win; discovery fills the ones it leaves empty."""
    fill = {k: v for k, v in found.items() if k in METADATA_FIELDS.values() and not getattr(cfg, k)}
    return attrs.evolve(cfg, **fill) if fill else cfg


def register(cfg: OAuthConfig, redirect: str, scopes: list[str]) -> ClientCredentials:
    """Register a public client for `redirect`; the response is kept for later use."""
    url = check_endpoint(cfg.registration_url, "registration_url (or metadata_url)")
    metadata = {
        "client_name": "authsome",
        "software_id": "authsome",
        "software_version": __version__,
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    if scopes:
        metadata["scope"] = " ".join(scopes)
    response = _send("POST", url, "the registration endpoint", json=metadata)
    return parse_registration(
        response.status_code, response.headers.get("content-type", ""), response.content
    )


def fits(client: ClientCredentials | None, redirect: str) -> bool:
    """A stored DCR client can be reused only for the redirect URI it was registered with."""
    if client is None:
        return False
    registered = (client.registration or {}).get("redirect_uris")
    return not isinstance(registered, list) or redirect in registered


def remember(client: ClientCredentials, found: dict[str, str]) -> ClientCredentials:
    if not found:
        return client
    return attrs.evolve(client, registration={**client.registration, DISCOVERED_KEY: found})


def _send(method: str, url: str, what: str, **kwargs: object) -> httpx.Response:
    with make_client() as http:
        try:
            response = http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise NetworkError(describe_transport_error(exc, url))
    if response.status_code >= 500:
        raise NetworkError(f"{what} answered HTTP {response.status_code}; try again later")
    if response.status_code in (301, 302, 303, 307, 308):
        raise UsageError(f"{what} redirects; put the final URL in the provider definition")
    return response
