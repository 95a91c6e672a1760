"""The `pkce` flow: authorization code on the loopback redirect (RFC 6749 §4.1, RFC 8252).

PKCE S256 when the provider supports it; otherwise a confidential-client exchange with
the client secret (HubSpot). Without a client, the loopback server first serves the
client form at `/`, and its submission redirects the browser on to the provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authsome.errors import OAuthError, TimedOut, UsageError
from authsome.oauth import authorize
from authsome.oauth.endpoint import resource_param, token_request
from authsome.oauth.http import check_endpoint
from authsome.oauth.loopback import FormSpec, LoopbackServer
from authsome.oauth.prompt import Deadline, show_url
from authsome.oauth.tokens import ClientCredentials, TokenSet

if TYPE_CHECKING:
    from authsome.providers.model import OAuthConfig, Provider


def run_code_flow(
    provider: Provider,
    cfg: OAuthConfig,
    client: ClientCredentials | None,
    *,
    port: int,
    scopes: list[str],
    open_browser: bool,
    deadline: Deadline,
) -> tuple[TokenSet, ClientCredentials]:
    """Sign in through the browser; returns the tokens and the client that got them."""
    check_endpoint(cfg.authorization_url, "authorization_url")
    check_endpoint(cfg.token_url, "token_url")
    needs_secret = not cfg.pkce
    if client is not None and needs_secret and not client.client_secret:
        raise UsageError(
            f"{provider.display_name} needs a client secret (it does not support PKCE): "
            "pass --client-secret-stdin"
        )
    state = authorize.new_state()
    verifier = authorize.new_verifier() if cfg.pkce else None
    name = provider.display_name

    def url_for(c: ClientCredentials) -> str:
        return authorize.authorization_url(
            cfg.authorization_url or "",
            client_id=c.client_id,
            redirect=authorize.redirect_uri(server.port),
            scopes=scopes,
            state=state,
            verifier=verifier,
            extra_params={**cfg.authorization_params, **resource_param(cfg)},
            scope_separator=cfg.scope_separator,
        )

    form = None
    if client is None:
        form = FormSpec(name, needs_secret, provider.docs_url, on_submit=url_for)
    with LoopbackServer(port, state, name, form) as server:
        if client is not None:
            server.authorize_url = url_for(client)
            show_url(server.authorize_url, what=f"sign in to {name}", open_browser=open_browser)
        else:
            show_url(
                server.base_url,
                what=f"enter your {name} OAuth client, then sign in",
                open_browser=open_browser,
            )
        try:
            deadline.wait(server.done, f"the {name} sign-in in your browser")
        finally:
            deadline.done()
        result = server.result
        client = client or server.client
        redirect = authorize.redirect_uri(server.port)
    # The port is released here, before the exchange: a slow token endpoint holds nothing.
    assert result is not None and client is not None
    if result.error is not None:
        if result.error.error == "access_denied":
            # The user said no at the provider: a cancelled login (exit 7), not a failure.
            raise TimedOut(str(result.error))
        raise result.error
    data = {
        "grant_type": "authorization_code",
        "code": result.code or "",
        "redirect_uri": redirect,
        **resource_param(cfg),
    }
    if verifier:
        data["code_verifier"] = verifier
    try:
        tokens = token_request(
            cfg.token_url, cfg.client_auth, client, data, requested_scopes=scopes
        )
    except OAuthError as exc:
        raise OAuthError(f"{name} refused the sign-in code: {exc}", error=exc.error)
    return tokens, client
