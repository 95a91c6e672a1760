"""In-memory models of the test authorization server: clients, codes, token families.

They implement authlib's model mixins; authserver_backend.py wires them into authlib.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import defaultdict
from typing import Any

import attrs
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE, DeviceCredentialDict

USER = "alice"  # the one resource owner; every approval is hers

ALL_GRANTS = ["authorization_code", "refresh_token", DEVICE_CODE_GRANT_TYPE]


@attrs.define(eq=False)
class Client(ClientMixin):
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    scope: str
    token_endpoint_auth_method: str
    grant_types: list[str] = attrs.field(factory=lambda: list(ALL_GRANTS))
    # A revocation endpoint that wants another method than the token endpoint (Todoist).
    revocation_auth_method: str | None = None

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # No scope asked: the client's default. Otherwise grant the allowed subset,
        # as most providers do, rather than fail the whole request.
        allowed = self.scope.split()
        if not scope:
            return self.scope
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(
            self.client_secret, client_secret
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Strict: a client_secret_basic client sending its secret in the body fails.
        if endpoint == "revocation" and self.revocation_auth_method:
            return method == self.revocation_auth_method
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@attrs.define(eq=False)
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    resource: str | None = None  # RFC 8707: the resource the authorization was for

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@attrs.define(eq=False)
class TokenRecord(TokenMixin):
    """One issuance: an access token and maybe a refresh token, in a refresh family."""

    client_id: str
    scope: str
    user: str
    family: str
    access_token: str
    refresh_token: str | None
    expires_at: float
    access_revoked: bool = False
    refresh_revoked: bool = False
    rotated: bool = False  # refresh token superseded by a rotation
    resource: str | None = None  # RFC 8707: the audience the token was minted for

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> str:
        return self.user

    def is_active(self) -> bool:
        return not self.access_revoked and not self.is_expired()


class Store:
    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.by_access: dict[str, TokenRecord] = {}
        self.by_refresh: dict[str, TokenRecord] = {}
        self.families: dict[str, list[TokenRecord]] = defaultdict(list)
        self.devices: dict[str, DeviceCredentialDict] = {}  # device_code -> credential
        self.device_grants: dict[str, tuple[str, bool]] = {}  # user_code -> (user, approved)
        self.reuse_revocations = 0

    def add_token(
        self,
        token: dict[str, Any],
        client_id: str,
        family: str | None,
        resource: str | None = None,
    ) -> None:
        rec = TokenRecord(
            resource=resource,
            client_id=client_id,
            scope=token.get("scope", ""),
            user=USER,
            family=family or uuid.uuid4().hex,
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            expires_at=time.time() + int(token.get("expires_in") or 10**9),
        )
        self.by_access[rec.access_token] = rec
        if rec.refresh_token:
            self.by_refresh[rec.refresh_token] = rec
        self.families[rec.family].append(rec)

    def revoke_family(self, family: str) -> None:
        for rec in self.families[family]:
            rec.access_revoked = rec.refresh_revoked = True

    def pending_user_codes(self) -> list[str]:
        """User codes awaiting a decision, oldest first."""
        return [
            c["user_code"]
            for c in self.devices.values()
            if c["user_code"] not in self.device_grants and not c.is_expired()
        ]
