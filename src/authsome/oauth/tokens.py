"""Token and client models shared by the OAuth engine, the vault and the front ends."""

from __future__ import annotations

import attrs


@attrs.define
class TokenSet:
    """What a token endpoint (or `authsome-helper store`) gave us."""

    access_token: str
    refresh_token: str | None = None
    expires_at: int | None = None  # epoch seconds
    scopes: list[str] = attrs.field(factory=list)
    token_type: str = "Bearer"
    extra: dict[str, str] = attrs.field(factory=dict)  # e.g. instance_url


@attrs.define
class ClientCredentials:
    """An OAuth client registered with a provider (by the user, or by us through DCR)."""

    client_id: str
    client_secret: str | None = None
    registration: dict = attrs.field(factory=dict)  # RFC 7591 response, for DCR clients
