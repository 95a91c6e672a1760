"""How a remote MCP server wants to be logged in to: the rules, sans-IO.

The MCP authorization specification is a chain of standards, each answering one question:
- RFC 9728 (protected resource metadata): which authorization server issues tokens for
  this URL? Found through the `resource_metadata` parameter of the server's 401
  `WWW-Authenticate` challenge, else at the well-known URIs (path-inserted, then root).
  Its `resource` must be the URL we asked about, or the document speaks for someone else.
- RFC 8414 / OpenID Connect discovery: that server's endpoints. Its `issuer` must be the
  one the resource named (RFC 8414 §3.3), so a document cannot redirect our login.
- Registration: a client the user registered (`--client-id`), a client ID metadata
  document the user hosts (when the server says it supports them), or RFC 7591.
- RFC 7636 PKCE with S256 (a server that does not list S256 is refused) and RFC 8707
  `resource` on the authorization, token and refresh requests, so the token is minted
  for this server alone.

`oauth/mcp_login.py` does the fetching; this module decides.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from authsome.errors import AuthsomeError, UsageError

PROTECTED_RESOURCE = "/.well-known/oauth-protected-resource"
OAUTH_SERVER = "/.well-known/oauth-authorization-server"
OPENID = "/.well-known/openid-configuration"

PREREGISTERED, METADATA_DOCUMENT, DYNAMIC = "preregistered", "metadata_document", "dynamic"

_DEFAULT_PORTS = {"https": 443, "http": 80}


class DiscoveryError(AuthsomeError):
    """The server's metadata does not allow a safe login (exit 1: not the user's input)."""


def scopes_of(value: str | None) -> list[str]:
    """RFC 6749 §3.3: space-delimited."""
    return (value or "").split()


# -- URLs ---------------------------------------------------------------------------


def check_server_url(url: str) -> str:
    """The MCP server URL as given, if it is one (https, or http on loopback is checked
    later with the other endpoints); no fragment, no user info."""
    not_a_url = UsageError(f"--mcp needs the server's URL (https://host/path), not {url!r}")
    if any(c.isspace() or not c.isprintable() for c in url.strip()):
        raise not_a_url  # no HTTP client would send it: a stray space or control character
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0-65535
    except ValueError:  # an unclosed [ipv6, a port that is not a number
        raise not_a_url from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise not_a_url
    if parts.fragment or parts.username or parts.password:
        raise UsageError("the MCP server URL must not carry a #fragment or user:password@")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def canonical(url: str) -> str:
    """RFC 8707 / RFC 3986 comparison form: scheme and host lowercased, default port
    and trailing slash dropped. Two URLs name the same resource when these are equal."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def _origin_and_path(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def resource_metadata_urls(server_url: str) -> list[str]:
    """RFC 9728 §3.1: the path-inserted well-known URI, then the root one."""
    origin, path = _origin_and_path(server_url)
    urls = [origin + PROTECTED_RESOURCE + path] if path else []
    return [*urls, origin + PROTECTED_RESOURCE]


def server_metadata_urls(issuer: str) -> list[str]:
    """Where an authorization server's metadata may be, in the order MCP clients try:
    RFC 8414 path-inserted, OIDC path-inserted, OIDC path-appended (for an issuer with a
    path); RFC 8414 then OIDC at the root (for one without)."""
    origin, path = _origin_and_path(issuer)
    if not path:
        return [origin + OAUTH_SERVER, origin + OPENID]
    return [origin + OAUTH_SERVER + path, origin + OPENID + path, origin + path + OPENID]


def api_url_entry(server_url: str) -> str:
    """The `api_url` entry covering the server: host[:port] and path."""
    parts = urlsplit(canonical(server_url))
    return parts.netloc + parts.path


def default_name(server_url: str) -> str:
    """A provider name from the server's host (`mcp.example.com`)."""
    return (urlsplit(server_url).hostname or "").lower().rstrip(".")


def env_var(name: str) -> str:
    base = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")
    base = base if base.startswith("MCP") else f"MCP_{base}"
    return f"{base}_ACCESS_TOKEN"


# -- documents ----------------------------------------------------------------------


@attrs.frozen
class ResourceMetadata:
    """RFC 9728 §2, the fields a client uses."""

    resource: str
    authorization_servers: list[str]
    scopes_supported: list[str] = attrs.field(factory=list)
    resource_name: str | None = None
    resource_documentation: str | None = None


@attrs.frozen
class ServerMetadata:
    """RFC 8414 §2 (or OIDC discovery), the fields a login uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    scopes_supported: list[str] = attrs.field(factory=list)
    auth_methods: list[str] = attrs.field(factory=list)
    metadata_documents: bool = False  # client_id_metadata_document_supported


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_resource_metadata(doc: Any, server_url: str, where: str) -> ResourceMetadata:
    """Check an RFC 9728 document against the URL it was fetched for (§3.3)."""
    if not isinstance(doc, dict):
        raise DiscoveryError(f"the protected resource metadata at {where} is not a JSON object")
    resource = _str(doc.get("resource"))
    if resource is None or canonical(resource) != canonical(server_url):
        raise DiscoveryError(
            f"refused: the protected resource metadata at {where} is for "
            f"'{resource or '(none)'}', not {server_url}"
        )
    servers = _strings(doc.get("authorization_servers"))
    if not servers:
        raise DiscoveryError(
            f"the protected resource metadata at {where} names no authorization_servers"
        )
    return ResourceMetadata(
        resource=resource,
        authorization_servers=servers,
        scopes_supported=_strings(doc.get("scopes_supported")),
        resource_name=_str(doc.get("resource_name")),
        resource_documentation=_str(doc.get("resource_documentation")),
    )


def legacy_resource(server_url: str) -> ResourceMetadata:
    """A server without RFC 9728 metadata (MCP 2025-03-26): its origin is the
    authorization server, as the official SDK's client also assumes."""
    origin, _ = _origin_and_path(server_url)
    return ResourceMetadata(resource=server_url, authorization_servers=[origin])


def parse_server_metadata(
    doc: Any, issuer: str, where: str, *, legacy: bool = False
) -> ServerMetadata:
    """Check an authorization server's metadata: issuer identical to the one the
    resource named (on the legacy path, the origin with or without its trailing slash),
    both endpoints present, PKCE S256 supported."""
    if not isinstance(doc, dict):
        raise DiscoveryError(f"the authorization server metadata at {where} is not a JSON object")
    found = _str(doc.get("issuer"))
    if legacy and found == issuer + "/":
        issuer = found
    if found != issuer:
        raise DiscoveryError(
            f"refused: the authorization server metadata at {where} has issuer "
            f"'{found or '(none)'}', not {issuer}"
        )
    if "S256" not in _strings(doc.get("code_challenge_methods_supported")):
        raise DiscoveryError(
            f"refused: the authorization server {issuer} does not list PKCE S256 "
            "in code_challenge_methods_supported"
        )
    authorize, token = _str(doc.get("authorization_endpoint")), _str(doc.get("token_endpoint"))
    if not authorize or not token:
        raise DiscoveryError(f"the authorization server metadata at {where} lacks its endpoints")
    return ServerMetadata(
        issuer=issuer,
        authorization_endpoint=authorize,
        token_endpoint=token,
        registration_endpoint=_str(doc.get("registration_endpoint")),
        revocation_endpoint=_str(doc.get("revocation_endpoint")),
        scopes_supported=_strings(doc.get("scopes_supported")),
        auth_methods=_strings(doc.get("token_endpoint_auth_methods_supported")),
        metadata_documents=doc.get("client_id_metadata_document_supported") is True,
    )


# -- choices ------------------------------------------------------------------------


def choose_registration(
    server: ServerMetadata, *, client_id: str | None, metadata_document: str | None
) -> str:
    """The client a login uses, in the MCP specification's order of preference."""
    if client_id:
        return PREREGISTERED
    if metadata_document and server.metadata_documents:
        return METADATA_DOCUMENT
    if server.registration_endpoint:
        return DYNAMIC
    also = " (it does not support client ID metadata documents either)" if metadata_document else ""
    raise DiscoveryError(
        f"{server.issuer} offers no dynamic client registration{also}: register a client "
        "there and pass --client-id (and --client-secret-stdin if it has a secret)"
    )


def check_metadata_document_url(url: str) -> str:
    """A client ID metadata document URL is the client_id: https with a path."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path in ("", "/"):
        raise UsageError("--client-metadata-url must be an https:// URL with a path")
    return url


def client_auth_for(server: ServerMetadata, has_secret: bool) -> str:
    """`basic` only when the server lists client_secret_basic and not _post (RFC 8414
    §2: the default is basic when it lists nothing; most MCP servers list _post)."""
    methods = server.auth_methods
    if (
        has_secret
        and "client_secret_post" not in methods
        and ("client_secret_basic" in methods or not methods)
    ):
        return "basic"
    return "body"


def scopes_to_request(
    challenge: list[str], resource: ResourceMetadata, previous: list[str], added: list[str]
) -> list[str]:
    """The challenge's scope, else the resource's scopes_supported; plus what earlier
    logins asked for and what --scopes adds (a step-up keeps its scopes)."""
    out: list[str] = []
    for scope in [*(challenge or resource.scopes_supported), *previous, *added]:
        if scope not in out:
            out.append(scope)
    return out


@attrs.frozen
class Discovery:
    """Everything found about one MCP server, ready to become a provider definition."""

    server_url: str
    resource_metadata_url: str
    resource: ResourceMetadata
    server: ServerMetadata
    server_metadata_url: str
    challenge_scopes: list[str] = attrs.field(factory=list)


def _https_or_none(url: str | None) -> str | None:
    return url if url and url.startswith("https://") else None


def provider_definition(
    name: str, found: Discovery, *, scopes: list[str], registration: str, client_auth: str
) -> dict[str, Any]:
    """A SPEC §3 definition for the server, carrying `oauth.resource` and `mcp`."""
    server = found.server
    host = urlsplit(found.server_url).netloc
    return {
        "schema_version": 1,
        "name": name,
        "display_name": found.resource.resource_name or f"MCP {host}",
        "description": f"Remote MCP server {found.server_url} (found by `authsome login --mcp`)",
        "auth_type": "oauth2",
        "flow": "dcr_pkce" if registration == DYNAMIC else "pkce",
        "api_url": [api_url_entry(found.server_url)],
        "oauth": {
            "authorization_url": server.authorization_endpoint,
            "token_url": server.token_endpoint,
            "revocation_url": server.revocation_endpoint,
            "device_authorization_url": None,
            "registration_url": server.registration_endpoint,
            "metadata_url": found.server_metadata_url,
            "scopes": list(scopes),
            "pkce": True,
            "supports_device_code": False,
            "supports_dcr": server.registration_endpoint is not None,
            "client_auth": client_auth,
            "authorization_params": {},
            "resource": found.resource.resource,
        },
        "api_key": None,
        "env": {"access_token": env_var(name)},
        "git_hosts": [],
        "docs_url": _https_or_none(found.resource.resource_documentation),
        "mcp": {
            "url": found.server_url,
            "resource_metadata": found.resource_metadata_url,
            "issuer": server.issuer,
        },
    }
