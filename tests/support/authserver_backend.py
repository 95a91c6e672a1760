"""authlib glue for the test authorization server: request adapters, grants, endpoints.

Everything protocol-shaped (PKCE checks, client authentication, device-code errors,
registration metadata validation) is authlib's reading of the RFCs, not ours; this
module only stores what authlib asks it to store (models in authserver_models.py).
The HTTP side lives in authserver.py. Callers hold `Backend.lock` around every call.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict
from typing import Any, Protocol

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.requests import JsonPayload, JsonRequest
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)

from support.authserver_models import USER, AuthCode, Client, Store, TokenRecord

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class Settings(Protocol):
    """What the backend reads from the AuthServer at request time (tests may change it)."""

    access_ttl: int
    rotate_refresh: bool
    reuse_revokes_family: bool
    require_pkce: bool
    device_interval: int
    device_expires_in: int
    device_verification_url: str

    def take_slow_down(self) -> bool: ...
    def metadata(self) -> dict[str, Any]: ...


# -- authlib request adapters ----------------------------------------------------------


class _Payload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = defaultdict(list)
        for k, v in pairs:
            self._datalist[k].append(v)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):
    """Query and form parameters of one HTTP request, as authlib wants them."""

    def __init__(self, method: str, uri: str, headers: Any, query: list, form: list) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _Payload(query + form)
        self._args = dict(query)
        self._form = dict(form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonPayload(JsonPayload):
    def __init__(self, data: dict) -> None:
        self._data = data

    @property
    def data(self) -> dict:
        return self._data


class JsonBodyRequest(JsonRequest):
    def __init__(self, method: str, uri: str, headers: Any, data: dict) -> None:
        super().__init__(method, uri, headers)
        self.payload = _JsonPayload(data)


# -- grants and endpoints ------------------------------------------------------------


class _Server(AuthorizationServer):
    def __init__(self, settings: Settings, store: Store) -> None:
        super().__init__()
        self.settings = settings
        self.store = store

    def query_client(self, client_id: str) -> Client | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: dict, request: OAuth2Request) -> None:
        parent = request.refresh_token
        code = getattr(request, "authorization_code", None)
        # RFC 8707: the token's audience is the code's resource, or its parent's
        resource = code.resource if code else (parent.resource if parent else None)
        family = parent.family if parent else None
        self.store.add_token(token, request.client.client_id, family, resource)

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # already built by the HTTP layer

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: list) -> tuple:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class _Pkce(CodeChallenge):
    """S256 only; required for public clients and when the server says so."""

    def validate_code_challenge(self, grant: Any, redirect_uri: Any) -> None:
        request = grant.request
        challenge = request.payload.data.get("code_challenge")
        if not challenge and (grant.server.settings.require_pkce or request.client.is_public):
            raise InvalidRequestError("Missing 'code_challenge'")
        if challenge and request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.store.codes[code] = AuthCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            expires_at=time.time() + 600,
            resource=data.get("resource"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        rec = self.server.store.codes.get(code)
        if rec and rec.client_id == client.client_id and rec.expires_at > time.time():
            return rec
        return None

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthCode) -> str:
        return authorization_code.user


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        store: Store = self.server.store
        rec = store.by_refresh.get(refresh_token)
        if rec is None or rec.refresh_revoked:
            return None
        if rec.rotated:
            # A superseded refresh token came back: someone holds a stolen copy, or the
            # client raced itself. Like Okta/Auth0/Atlassian, burn the whole family.
            if self.server.settings.reuse_revokes_family:
                store.revoke_family(rec.family)
                store.reuse_revocations += 1
            return None
        return rec

    def authenticate_user(self, refresh_token: TokenRecord) -> str:
        return refresh_token.user

    def issue_token(self, user: str, refresh_token: TokenRecord) -> dict:
        scope = self.request.payload.scope or refresh_token.get_scope()
        return self.generate_token(
            user=user, scope=scope, include_refresh_token=self.server.settings.rotate_refresh
        )

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        if self.server.settings.rotate_refresh:
            refresh_token.rotated = True


class _DeviceCodeGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
        return self.server.store.devices.get(device_code)

    def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
        return self.server.store.device_grants.get(user_code)

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        return self.server.settings.take_slow_down()

    def create_token_response(self) -> tuple:
        result = super().create_token_response()
        self.server.store.devices.pop(self.request.credential["device_code"], None)  # one use
        return result


class _DeviceAuthorizationEndpoint(DeviceAuthorizationEndpoint):
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    @property
    def INTERVAL(self) -> int:  # authlib's attribute name
        return self.server.settings.device_interval

    @property
    def EXPIRES_IN(self) -> int:
        return self.server.settings.device_expires_in

    def get_verification_uri(self) -> str:
        return self.server.settings.device_verification_url

    def save_device_credential(self, client_id: str, scope: str | None, data: dict) -> None:
        cred = DeviceCredentialDict(
            client_id=client_id, scope=scope, expires_at=time.time() + data["expires_in"], **data
        )
        self.server.store.devices[data["device_code"]] = cred


class _RevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        store: Store = self.server.store
        return store.by_access.get(token_string) or store.by_refresh.get(token_string)

    def revoke_token(self, token: TokenRecord, request: OAuth2Request) -> None:
        if request.form["token"] == token.refresh_token:
            # RFC 7009 2.1: revoking a refresh token drops the access tokens of its grant.
            self.server.store.revoke_family(token.family)
        else:
            token.access_revoked = True


class _RegistrationEndpoint(ClientRegistrationEndpoint):
    def authenticate_token(self, request: Any) -> str:
        return "open-registration"

    def get_server_metadata(self) -> dict[str, Any]:
        return self.server.settings.metadata()

    def generate_client_secret(self, request: Any) -> str | None:
        if request.payload.data.get("token_endpoint_auth_method") == "none":
            return None
        return secrets.token_hex(24)

    def save_client(self, client_info: dict, client_metadata: dict, request: Any) -> Client:
        client = Client(
            client_id=client_info["client_id"],
            client_secret=client_info["client_secret"],
            redirect_uris=list(client_metadata.get("redirect_uris") or []),
            scope=client_metadata.get("scope") or "read write",
            token_endpoint_auth_method=client_metadata["token_endpoint_auth_method"],
            # RFC 7591 2: grant_types defaults to authorization_code alone, so a client
            # that wants refresh tokens must ask for them.
            grant_types=list(client_metadata.get("grant_types") or ["authorization_code"]),
        )
        self.server.store.clients[client.client_id] = client
        return client

    def create_registration_response(self, request: Any) -> tuple:
        status, body, headers = super().create_registration_response(request)
        return status, {k: v for k, v in body.items() if v is not None}, headers


class Backend:
    """The authlib server with its store and the one lock that guards both."""

    def __init__(self, settings: Settings) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.store = Store()
        self.server = _Server(settings, self.store)
        self.server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: "at_" + secrets.token_urlsafe(24),
                refresh_token_generator=lambda **_: "rt_" + secrets.token_urlsafe(24),
                expires_generator=lambda client, grant_type: settings.access_ttl,
            ),
        )
        self.server.register_grant(_AuthorizationCodeGrant, [_Pkce(required=True)])
        self.server.register_grant(_RefreshTokenGrant)
        self.server.register_grant(_DeviceCodeGrant)
        self.server.register_endpoint(_DeviceAuthorizationEndpoint)
        self.server.register_endpoint(_RevocationEndpoint)
        self.server.register_endpoint(_RegistrationEndpoint)

    def mint(self, client_id: str, scope: str) -> dict[str, Any]:
        """Issue a token pair outside any flow (seeding a vault in tests)."""
        client = self.store.clients[client_id]
        token = self.server.generate_token(
            "authorization_code", client, user=USER, scope=scope, include_refresh_token=True
        )
        self.store.add_token(token, client_id, None)
        return dict(token)
