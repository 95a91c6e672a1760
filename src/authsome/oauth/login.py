"""Running an OAuth login: pick the flow, find or obtain the client, run the flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from authsome.errors import UsageError
from authsome.oauth import authorize, dcr
from authsome.oauth.client_setup import collect_client
from authsome.oauth.code_flow import run_code_flow
from authsome.oauth.device import run_device_flow
from authsome.oauth.endpoint import effective_oauth
from authsome.oauth.prompt import Deadline
from authsome.oauth.tokens import ClientCredentials, TokenSet

if TYPE_CHECKING:
    from authsome.providers.model import Provider

OAUTH_FLOWS = ("pkce", "device_code", "dcr_pkce")


@attrs.frozen
class LoginRequest:
    flow: str
    scopes: list[str]
    client: ClientCredentials | None = attrs.field(repr=False)  # given, or stored
    port: int
    open_browser: bool
    timeout: float
    connection: str = "default"  # named on the login's pages


def choose_flow(provider: Provider, requested: str | None) -> str:
    """The provider's default flow, or `--flow` if the provider supports it."""
    cfg = provider.oauth
    if cfg is None:
        raise UsageError(f"{provider.name} is not an OAuth provider")
    flow = requested or provider.flow
    supported = supported_flows(provider)
    if flow not in supported:
        raise UsageError(
            f"{provider.display_name} has no {flow} flow (its flows: {', '.join(supported)})"
        )
    return flow


def supported_flows(provider: Provider) -> list[str]:
    """The OAuth flows this provider's definition allows, its default first."""
    cfg = provider.oauth
    allowed = {"pkce": True}
    allowed["device_code"] = bool(cfg.supports_device_code or cfg.device_authorization_url)
    allowed["dcr_pkce"] = bool(cfg.supports_dcr or cfg.registration_url or cfg.metadata_url)
    flows = [f for f in OAUTH_FLOWS if allowed.get(f)]
    if provider.flow in flows:
        flows.remove(provider.flow)
        flows.insert(0, provider.flow)
    return flows


def run_login(
    provider: Provider,
    request: LoginRequest,
    on_registered: Callable[[ClientCredentials], None],
    on_tokens: Callable[[TokenSet, ClientCredentials], None],
) -> tuple[TokenSet, ClientCredentials]:
    """Tokens and the client that obtained them, once `on_tokens` has kept them. A DCR
    client is handed to `on_registered` at once: registration is server-side state, worth
    keeping even if the sign-in that follows fails. A browser sign-in's page waits for
    `on_tokens`, so it never says "Signed in" for tokens the vault did not take."""
    deadline = Deadline(request.timeout)
    client = request.client
    if request.flow == "device_code":
        cfg = effective_oauth(provider, client)
        if client is None:
            client = collect_client(
                provider,
                needs_secret=False,
                port=request.port,
                open_browser=request.open_browser,
                deadline=deadline,
                connection=request.connection,
            )
        tokens = run_device_flow(
            provider,
            cfg,
            client,
            scopes=request.scopes,
            open_browser=request.open_browser,
            deadline=deadline,
        )
        on_tokens(tokens, client)
        return tokens, client
    if request.flow == "dcr_pkce":
        client = _registered_client(provider, request, on_registered)
        cfg = attrs.evolve(effective_oauth(provider, client), pkce=True)  # public client
    else:
        cfg = effective_oauth(provider, client)
    return run_code_flow(
        provider,
        cfg,
        client,
        port=request.port,
        scopes=request.scopes,
        open_browser=request.open_browser,
        deadline=deadline,
        connection=request.connection,
        on_tokens=on_tokens,
    )


def _registered_client(
    provider: Provider,
    request: LoginRequest,
    on_registered: Callable[[ClientCredentials], None],
) -> ClientCredentials:
    redirect = authorize.redirect_uri(request.port)
    if request.client is not None and dcr.fits(request.client, redirect):
        return request.client
    cfg = provider.oauth
    assert cfg is not None
    found = dcr.discover(cfg)
    client = dcr.register(dcr.with_endpoints(cfg, found), redirect, request.scopes)
    client = dcr.remember(client, found)
    on_registered(client)
    return client


def login_and_store(
    service: Any, definition: Provider, provider: Provider, request: LoginRequest, params: dict
) -> TokenSet:
    """Run the login for `provider` (the definition, filled) and keep what it yields.

    A client registered on the way (DCR) is stored at once, and a client that worked
    is kept for later logins; templates the token response fills (`from_token`) are
    filled and checked; the token is stored with the connection's values.
    """
    from authsome.providers.templates import check_token_params, params_from_token

    def keep(client: ClientCredentials) -> None:
        service.store_client(definition.name, client)

    def keep_tokens(tokens: TokenSet, used: ClientCredentials) -> None:
        if used != service.client(definition.name):
            keep(used)
        filled = params_from_token(definition, params, tokens.extra)
        check_token_params(definition, filled)
        service.store_token(
            definition.name, request.connection, tokens, params=filled, event="login"
        )

    tokens, _ = run_login(provider, request, on_registered=keep, on_tokens=keep_tokens)
    return tokens
