"""The I/O half of an MCP login: fetch the metadata `mcp_discovery` judges, pick a client.

Nothing is written here: a refusal anywhere leaves the home as it was.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx

from authsome.errors import NetworkError
from authsome.oauth import dcr
from authsome.oauth import mcp_discovery as rules
from authsome.oauth.endpoint import DISCOVERED_KEY
from authsome.oauth.http import check_endpoint, describe_transport_error, make_client
from authsome.oauth.tokens import ClientCredentials
from authsome.protocol.challenge import bearer_challenge
from authsome.providers.model import OAuthConfig

# Kept in the stored client's registration: which server it belongs to and how it was
# obtained, so a later login reuses it only with the same authorization server.
ISSUER_KEY = "authsome_issuer"
KIND_KEY = "authsome_registration"
_MAX_DOCUMENT = 256 * 1024


def discover(server_url: str, http: httpx.Client | None = None) -> rules.Discovery:
    """Everything a login needs to know about the MCP server at `server_url`."""
    check_endpoint(server_url, "the MCP server URL")
    own = http is None
    http = http or make_client()
    try:
        challenge = _challenge(http, server_url)
        hinted = (challenge or {}).get("resource_metadata")
        # The challenge's document first, then the well-known URIs (as the SDK's client)
        candidates = ([hinted] if hinted else []) + rules.resource_metadata_urls(server_url)
        where, doc = _first_document(http, candidates, "protected resource metadata")
        legacy = doc is None
        if legacy:  # no RFC 9728 document anywhere: the 2025-03-26 rule, as the SDK has it
            resource = rules.legacy_resource(server_url)
        else:
            resource = rules.parse_resource_metadata(doc, server_url, where)
        issuer = resource.authorization_servers[0]
        check_endpoint(issuer, "the authorization server")
        urls = rules.server_metadata_urls(issuer)
        as_where, as_doc = _first_document(http, urls, "authorization server metadata")
        if as_doc is None:
            what = "no protected resource metadata (RFC 9728), and " if legacy else ""
            raise rules.DiscoveryError(
                f"{server_url}: {what}the authorization server {issuer} publishes no "
                f"metadata at {', '.join(urls)}"
            )
        server = rules.parse_server_metadata(as_doc, issuer, as_where, legacy=legacy)
    finally:
        if own:
            http.close()
    for what, url in (
        ("authorization_endpoint", server.authorization_endpoint),
        ("token_endpoint", server.token_endpoint),
        ("registration_endpoint", server.registration_endpoint),
        ("revocation_endpoint", server.revocation_endpoint),
    ):
        if url:
            check_endpoint(url, what)
    return rules.Discovery(
        server_url=server_url,
        resource_metadata_url=where,
        resource=resource,
        server=server,
        server_metadata_url=as_where,
        challenge_scopes=rules.scopes_of((challenge or {}).get("scope")),
    )


def _challenge(http: httpx.Client, url: str) -> dict[str, str] | None:
    """The Bearer challenge of an unauthenticated request (RFC 9728 §5.1), if any."""
    try:
        response = http.get(url, headers={"Accept": "application/json, text/event-stream"})
    except httpx.HTTPError as exc:
        raise NetworkError(describe_transport_error(exc, url))
    response.close()
    if response.status_code != 401:
        return None
    return bearer_challenge(response.headers.get("www-authenticate"))


def _first_document(
    http: httpx.Client, urls: list[str], what: str
) -> tuple[str, dict[str, Any] | None]:
    """The first of `urls` that answers 200 with a JSON object; ("", None) if none does."""
    for url in urls:
        check_endpoint(url, what)
        try:
            response = http.get(url)
        except httpx.HTTPError as exc:
            raise NetworkError(describe_transport_error(exc, url))
        if response.status_code >= 500:
            raise NetworkError(f"{url} answered HTTP {response.status_code}; try again later")
        if response.status_code != 200 or len(response.content) > _MAX_DOCUMENT:
            continue  # 404 and redirects: try the next well-known form
        try:
            doc = json.loads(response.content)
        except (ValueError, RecursionError):
            raise rules.DiscoveryError(f"the {what} at {url} is not valid JSON")
        return url, doc
    return "", None


def endpoints(found: rules.Discovery) -> dict[str, str]:
    """The discovered endpoints as OAuthConfig fields (kept with the client, so that a
    bundled definition without endpoints refreshes and revokes without discovering)."""
    server = found.server
    out = {
        "authorization_url": server.authorization_endpoint,
        "token_url": server.token_endpoint,
        "revocation_url": server.revocation_endpoint,
        "registration_url": server.registration_endpoint,
        "resource": found.resource.resource,
    }
    return {k: v for k, v in out.items() if v}


def choose_client(
    found: rules.Discovery,
    stored: ClientCredentials | None,
    *,
    given: ClientCredentials | None,
    metadata_document: str | None,
    redirect: str,
    scopes: list[str],
) -> tuple[ClientCredentials, bool]:
    """(client, registered just now), in the MCP specification's order: the client the
    user gives, a client ID metadata document, dynamic registration. A stored client is
    reused only with the same authorization server; a registered one only while it
    covers the redirect URI and the scopes (a step-up registers anew)."""
    issuer = found.server.issuer
    reg = (stored.registration or {}) if stored else {}
    mine = stored if reg.get(ISSUER_KEY) == issuer else None
    if given is None and mine is not None and reg.get(KIND_KEY) == rules.PREREGISTERED:
        given = mine  # the user's own client from an earlier login
    kind = rules.choose_registration(
        found.server,
        client_id=given.client_id if given else None,
        metadata_document=metadata_document,
    )
    if kind == rules.PREREGISTERED:
        assert given is not None
        return _mark(given, found, kind), False
    if kind == rules.METADATA_DOCUMENT:
        assert metadata_document is not None
        return _mark(ClientCredentials(client_id=metadata_document), found, kind), False
    if mine is not None and reg.get(KIND_KEY) == rules.DYNAMIC and dcr.fits(mine, redirect):
        granted = rules.scopes_of(reg.get("scope"))
        if not granted or set(scopes) <= set(granted):
            return _mark(mine, found, kind), False
    cfg = OAuthConfig(registration_url=found.server.registration_endpoint)
    client = dcr.register(cfg, redirect, scopes)
    return _mark(client, found, kind), True


def _mark(client: ClientCredentials, found: rules.Discovery, kind: str) -> ClientCredentials:
    registration = {
        **(client.registration or {}),
        ISSUER_KEY: found.server.issuer,
        KIND_KEY: kind,
        DISCOVERED_KEY: endpoints(found),
    }
    return attrs.evolve(client, registration=registration)
