"""The provider definition schema (SPEC §3) as attrs models."""

from __future__ import annotations

from typing import Any, Literal

import attrs

AuthType = Literal["oauth2", "api_key"]
Flow = Literal["pkce", "device_code", "dcr_pkce", "api_key"]
ClientAuth = Literal["body", "basic"]
# RFC 6749 §3.3 says space; some providers (Slack, Linear, Todoist) want commas.
ScopeSeparator = Literal[" ", ","]
RequestBody = Literal["form", "json"]

AUTH_TYPES = ("oauth2", "api_key")
FLOWS = ("pkce", "device_code", "dcr_pkce", "api_key")
CLIENT_AUTHS = ("body", "basic")
SCOPE_SEPARATORS = (" ", ",")
REQUEST_BODIES = ("form", "json")


@attrs.frozen
class OAuthConfig:
    authorization_url: str | None = None
    token_url: str | None = None
    # Where refresh_token grants go when the provider has its own endpoint for them
    # (Figma: /v1/oauth/refresh); null means token_url, as RFC 6749 §6 has it.
    refresh_url: str | None = None
    revocation_url: str | None = None
    device_authorization_url: str | None = None
    registration_url: str | None = None
    metadata_url: str | None = None
    scopes: list[str] = attrs.field(factory=list)
    pkce: bool = False
    supports_device_code: bool = False
    supports_dcr: bool = False
    client_auth: ClientAuth = "body"
    # How the revocation endpoint wants the client authenticated when it differs from
    # the token endpoint (Todoist: HTTP Basic there, the form at the token endpoint).
    revocation_client_auth: ClientAuth | None = None
    # How token and revocation requests carry their parameters: RFC 6749's form, or a
    # JSON object where the provider documents only that (Notion).
    request_body: RequestBody = "form"
    # The revocation request's own body format when it differs from the token
    # endpoint's (QuickBooks: a JSON {token} there, a form at the token endpoint);
    # null means as `request_body`.
    revocation_body: RequestBody | None = None
    authorization_params: dict[str, str] = attrs.field(factory=dict)
    # Joins `scope` in the authorization and device requests only; DCR metadata
    # (RFC 7591) and token responses keep their own rules.
    scope_separator: ScopeSeparator = " "
    # The header that carries the access token (Shopify: X-Shopify-Access-Token, no
    # prefix). "Bearer" stands for the token's own type; null or "" sends the bare token.
    header_name: str = "Authorization"
    header_prefix: str | None = "Bearer"
    # RFC 8707 resource indicator: sent on the authorization, token and refresh requests
    # so the token is minted for this resource alone (MCP servers require it).
    resource: str | None = None


@attrs.frozen
class McpServer:
    """A remote MCP server: login discovers its authorization from `url` (RFC 9728)."""

    url: str
    resource_metadata: str | None = None  # where the last login found its metadata
    issuer: str | None = None  # the authorization server the last login used


@attrs.frozen
class ApiKeyConfig:
    # null when the key goes only in `query_param` (SerpApi): then no header carries it.
    header_name: str | None = "Authorization"
    header_prefix: str | None = "Bearer"
    key_pattern: str | None = None
    env_var: str | None = None
    # The URL query parameter that carries the key (SerpApi: api_key), for APIs that take
    # it there; the proxy sets it on each intercepted request.
    query_param: str | None = None
    # HTTP Basic with the key as password (header_prefix "Basic"): a fixed user name
    # (Mailchimp: any string), or `basic_user_prompt` names what login asks for (Twilio:
    # the Account SID). Login stores base64(user:key), which the header then carries.
    basic_user: str | None = None
    basic_user_prompt: str | None = None

    @property
    def basic(self) -> bool:
        return self.basic_user is not None or self.basic_user_prompt is not None


@attrs.frozen
class Verified:
    """When and against which page of the provider's own documentation the definition
    was last checked, so that drift shows (docs/providers.md: re-checking one)."""

    date: str  # YYYY-MM-DD
    source: str  # the provider's page for its auth (OAuth endpoints, API-key header)
    # What the check could not confirm, or why the date is older than the entry's edits.
    note: str | None = None


@attrs.frozen
class GitHost:
    host: str
    username: str = "x-access-token"
    bearer: bool = False  # the host accepts `Authorization: Bearer` from git (authtype)


@attrs.frozen
class Template:
    """A placeholder such as {subdomain} in endpoints and api_url, filled per connection."""

    description: str = ""
    example: str | None = None
    default: str | None = None
    # A field of the token response that carries the value (Salesforce's `instance_url`):
    # login fills the template from it, and a login does not ask for it up front.
    from_token: str | None = None


@attrs.frozen
class Provider:
    name: str
    display_name: str
    auth_type: AuthType
    flow: Flow
    schema_version: int = 1
    description: str = ""
    api_url: list[str] = attrs.field(factory=list)
    oauth: OAuthConfig | None = None
    api_key: ApiKeyConfig | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    git_hosts: list[GitHost] = attrs.field(factory=list)
    docs_url: str | None = None
    templates: dict[str, Template] = attrs.field(factory=dict)
    mcp: McpServer | None = None
    verified: Verified | None = None
    # Not part of the file: where it came from, and the fields we keep but do not use.
    source: str = attrs.field(default="bundled", metadata={"internal": True})
    path: str | None = attrs.field(default=None, metadata={"internal": True})
    extra: dict[str, Any] = attrs.field(factory=dict, metadata={"internal": True})
    # The definition as read (legacy names upgraded): the header and query rules
    # (`protocol.authheader`) read its `api_key` and `oauth` blocks, as the hot path does.
    raw: dict[str, Any] = attrs.field(
        factory=dict, repr=False, eq=False, metadata={"internal": True}
    )

    @property
    def api_key_block(self) -> dict | None:
        """The raw `api_key` block (header_name, header_prefix, query_param, env_var)."""
        return self.raw.get("api_key") if self.api_key is not None else None

    @property
    def oauth_block(self) -> dict | None:
        """The raw `oauth` block (header_name, header_prefix among its fields)."""
        return self.raw.get("oauth") if self.oauth is not None else None

    @property
    def secret_env_var(self) -> str | None:
        """The env var that carries the usable secret (access token or API key)."""
        from authsome.providers.rules import secret_env_var

        return secret_env_var(self.auth_type, self.env, self.api_key and self.api_key.env_var)
