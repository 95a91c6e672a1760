"""Token revocation (RFC 7009), used by `logout` and `authsome-helper erase`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from authsome.errors import OAuthError
from authsome.oauth.endpoint import add_client_auth, effective_oauth, post_form
from authsome.oauth.responses import decode_body, raise_for_error
from authsome.oauth.tokens import ClientCredentials

if TYPE_CHECKING:
    from authsome.providers.model import Provider


def can_revoke(provider: Provider, client: ClientCredentials | None = None) -> bool:
    return provider.oauth is not None and bool(effective_oauth(provider, client).revocation_url)


def revoke(
    provider: Provider, client: ClientCredentials | None, token: str, hint: str | None = None
) -> bool:
    """Revoke one token; False when the provider has no revocation endpoint.

    Raises OAuthError (the server refused) or NetworkError (unreachable).
    """
    cfg = effective_oauth(provider, client)
    if not cfg.revocation_url:
        return False
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    headers: dict[str, str] = {}
    add_client_auth(cfg.revocation_client_auth or cfg.client_auth, client, data, headers)
    response = post_form(
        cfg.revocation_url,
        data,
        what="the revocation endpoint",
        headers=headers,
        json_body=(cfg.revocation_body or cfg.request_body) == "json",
    )
    # §2.2: 200 means revoked (or already invalid); §2.2.1 errors are RFC 6749 errors.
    if response.status_code != 200:
        try:
            data_out = decode_body(response.headers.get("content-type", ""), response.content)
        except OAuthError:
            data_out = {}
        raise_for_error(data_out, response.status_code)
    return True
