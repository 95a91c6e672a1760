"""The refresh_token grant (RFC 6749 §6).

Called by `authsome.credentials` under the connection's lock (single-flight); this
module only talks to the provider. Errors:
- OAuthError(error="invalid_grant"): the refresh token is dead -> log in again;
- OAuthError(other error): the provider refused for another reason (invalid_client...);
- NetworkError (authsome.errors): unreachable, timed out, HTTP 5xx/429 -> transient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authsome.oauth.endpoint import effective_oauth, resource_param, token_request
from authsome.oauth.tokens import ClientCredentials, TokenSet

if TYPE_CHECKING:
    from authsome.providers.model import Provider


def refresh(
    provider: Provider,
    client: ClientCredentials | None,
    refresh_token: str,
    *,
    scopes: list[str] | tuple[str, ...] = (),
) -> TokenSet:
    """A fresh TokenSet. Keeps `refresh_token` when the provider does not rotate it,
    and `scopes` (the connection's current ones) when the response does not name any."""
    cfg = effective_oauth(provider, client)
    return token_request(
        cfg.refresh_url or cfg.token_url,
        cfg.client_auth,
        client,
        {"grant_type": "refresh_token", "refresh_token": refresh_token, **resource_param(cfg)},
        requested_scopes=scopes,
        previous_refresh_token=refresh_token,
        json_body=cfg.request_body == "json",
    )
