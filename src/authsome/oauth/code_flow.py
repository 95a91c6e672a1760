"""The `pkce` flow: authorization code on the loopback redirect (RFC 6749 §4.1, RFC 8252).

PKCE S256 when the provider supports it; otherwise a confidential-client exchange with
the client secret (HubSpot). Without a client, the loopback server first serves the
client form (at a secret path), and its submission redirects the browser on to the
provider. The code is exchanged, and the tokens kept (`on_tokens`: the vault write),
while the browser waits on its callback, so the page it lands on tells the real outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from authsome.errors import AuthsomeError, OAuthError, TimedOut, UsageError
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
    connection: str = "default",
    on_tokens: Callable[[TokenSet, ClientCredentials], None] | None = None,
) -> tuple[TokenSet, ClientCredentials]:
    """Sign in through the browser; returns the tokens and the client that got them,
    after `on_tokens` (which keeps them) has run: the page says "Signed in" only then."""
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
        form = FormSpec(
            name, needs_secret, provider.docs_url, on_submit=url_for,
            form_target=cfg.authorization_url,
        )  # fmt: skip
    with LoopbackServer(port, state, name, connection, form) as server:
        if client is not None:
            server.authorize_url = url_for(client)
            show_url(server.authorize_url, what=f"sign in to {name}", open_browser=open_browser)
        else:
            show_url(
                server.form_url,
                what=f"enter your {name} OAuth client, then sign in",
                open_browser=open_browser,
            )
        try:
            deadline.wait(server.done, f"the {name} sign-in in your browser")
        finally:
            deadline.done()
        result = server.result
        client = client or server.client
        assert result is not None and client is not None
        if result.error is not None:
            if result.error.error == "access_denied":
                # The user said no at the provider: a cancelled login (exit 7), not a failure.
                raise TimedOut(str(result.error))
            raise result.error
        # The browser waits on its callback while we exchange the code: its page then
        # says what really happened (a wrong client secret is not "Signed in").
        try:
            tokens = _exchange(cfg, client, result.code or "", server.port, verifier, scopes)
        except OAuthError as exc:
            server.report(False, f"{name} refused the sign-in code: {exc}")
            raise OAuthError(f"{name} refused the sign-in code: {exc}", error=exc.error)
        except AuthsomeError as exc:
            server.report(False, f"The sign-in could not be completed: {exc}")
            raise
        if on_tokens is not None:
            try:
                on_tokens(tokens, client)
            except AuthsomeError as exc:
                # Signed in at the provider, but not usable here (the vault did not take
                # the token): a local failure, 500, and not the provider's (502). The
                # reason is our own one line (a path, a key source), never a secret.
                server.report(
                    False,
                    f"The sign-in at {name} worked, but authsome could not store the token: "
                    f"{exc}. Nothing was saved; see the terminal.",
                    status=500,
                    title="Token not stored",
                )
                raise
        server.report(True, f"authsome is signed in to {name} ({connection}). You can close "
                      "this tab and return to the terminal.")  # fmt: skip
    return tokens, client


def _exchange(
    cfg: OAuthConfig,
    client: ClientCredentials,
    code: str,
    port: int,
    verifier: str | None,
    scopes: list[str],
) -> TokenSet:
    """The authorization code for tokens at the token endpoint (RFC 6749 §4.1.3)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": authorize.redirect_uri(port),
        **resource_param(cfg),
    }
    if verifier:
        data["code_verifier"] = verifier
    return token_request(
        cfg.token_url,
        cfg.client_auth,
        client,
        data,
        requested_scopes=scopes,
        json_body=cfg.request_body == "json",
    )
