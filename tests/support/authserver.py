"""A real OAuth 2 authorization server for tests, on loopback, in a background thread.

Built on authlib's server side (RFC 6749 code + refresh, RFC 7636 PKCE, RFC 8628 device
code, RFC 7591 registration, RFC 7009 revocation, RFC 8414 metadata) so authsome's
client is checked against someone else's reading of the RFCs. It runs in the test's
own process, so tests can read its counters and flip its switches between requests.

    with AuthServer(rotate_refresh=True) as srv:
        srv.register_client("cli", "s3cret", redirect_uris=[...])
        ...
        assert srv.counts["token:refresh_token"] == 1
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import os
import secrets
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

from support.authserver_backend import Backend, FormRequest, JsonBodyRequest
from support.authserver_http import make_handler
from support.authserver_models import USER, Client
from support.authserver_quirks import QUIRKS, shape_token_response

_LOGGED_HEADERS = ("Accept", "Content-Type", "Authorization", "User-Agent")


class AuthServer:
    def __init__(
        self,
        *,
        access_ttl: int = 3600,
        rotate_refresh: bool = True,
        reuse_revokes_family: bool = True,
        quirks: set[str] | frozenset[str] = frozenset(),
        require_pkce: bool = False,
    ) -> None:
        unknown = set(quirks) - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks: {sorted(unknown)}")
        self.access_ttl = access_ttl
        self.rotate_refresh = rotate_refresh
        self.reuse_revokes_family = reuse_revokes_family
        self.quirks = frozenset(quirks)
        self.require_pkce = require_pkce
        self.device_interval = 1
        self.device_expires_in = 600
        self.device_auto_approve = False  # GET /device?user_code=X approves, like a click
        self.deny_next_authorization = False
        # Where the RFC 8414 document is served ("oauth" and/or "oidc" well-known paths),
        # and fields to change in it (None removes one): the MCP discovery tests.
        self.metadata_at = {"oauth"}
        self.metadata_overrides: dict[str, Any] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.requests: list[dict[str, Any]] = []
        self._slow_down = 0
        self._backend = Backend(self)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> AuthServer:
        handler = make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- endpoints -----------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def authorization_url(self) -> str:
        return self.base_url + "/authorize"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def refresh_url(self) -> str:
        """A second token endpoint that takes only refresh_token grants (Figma's
        /v1/oauth/refresh); with the `refresh_elsewhere` quirk /token refuses them."""
        return self.base_url + "/refresh"

    @property
    def revocation_url(self) -> str:
        return self.base_url + "/revoke"

    @property
    def device_authorization_url(self) -> str:
        return self.base_url + "/device_authorization"

    @property
    def device_verification_url(self) -> str:
        return self.base_url + "/device"

    @property
    def registration_url(self) -> str:
        return self.base_url + "/register"

    @property
    def metadata_url(self) -> str:
        return self.base_url + "/.well-known/oauth-authorization-server"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/me"

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 server metadata, with `metadata_overrides` applied."""
        doc = {**self._metadata(), **self.metadata_overrides}
        return {k: v for k, v in doc.items() if v is not None}

    def _metadata(self) -> dict[str, Any]:
        methods = ["client_secret_basic", "client_secret_post", "none"]
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_url,
            "token_endpoint": self.token_url,
            "revocation_endpoint": self.revocation_url,
            "registration_endpoint": self.registration_url,
            "device_authorization_endpoint": self.device_authorization_url,
            "response_types_supported": ["code"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                DEVICE_CODE_GRANT_TYPE,
            ],
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": ["S256"],
        }

    def provider_definition(
        self,
        name: str = "testauth",
        *,
        flow: str = "pkce",
        scopes: list[str] | None = None,
        pkce: bool = True,
        client_auth: str = "body",
        api_url: list[str] | None = None,
        env_var: str | None = None,
    ) -> dict[str, Any]:
        """A SPEC section 3 provider definition pointing at this server.

        For dcr_pkce flows only registration/metadata URLs matter, but all are given.
        Save it as $AUTHSOME_HOME/providers/<name>.json (see write_provider).
        """
        var = env_var or name.upper().replace("-", "_") + "_ACCESS_TOKEN"
        return {
            "schema_version": 1,
            "name": name,
            "display_name": f"Test {name}",
            "description": "The test authorization server",
            "auth_type": "oauth2",
            "flow": flow,
            "api_url": list(api_url or []),
            "oauth": {
                "authorization_url": self.authorization_url,
                "token_url": self.token_url,
                "revocation_url": self.revocation_url,
                "device_authorization_url": self.device_authorization_url,
                "registration_url": self.registration_url,
                "metadata_url": self.metadata_url,
                "scopes": list(scopes if scopes is not None else ["read"]),
                "pkce": pkce,
                "supports_device_code": True,
                "supports_dcr": flow == "dcr_pkce",
                "client_auth": client_auth,
                "authorization_params": {},
            },
            "api_key": None,
            "env": {"access_token": var, "refresh_token": var.replace("ACCESS", "REFRESH")},
            "git_hosts": [],
            "docs_url": None,
        }

    def write_provider(
        self, home: str | os.PathLike[str], name: str = "testauth", **kwargs: Any
    ) -> Path:
        """Write provider_definition(...) into <home>/providers/<name>.json (0600)."""
        from support.providers import write_definition

        return write_definition(Path(home), self.provider_definition(name, **kwargs), indent=2)

    # -- test controls -------------------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        redirect_uris: list[str],
        scope: str = "read write",
        token_endpoint_auth_method: str = "client_secret_post",
        grant_types: list[str] | None = None,
        revocation_auth_method: str | None = None,
    ) -> None:
        if client_secret is None:
            token_endpoint_auth_method = "none"
        elif token_endpoint_auth_method == "none":
            raise ValueError("a public client (auth method 'none') takes no secret")
        client = Client(
            client_id, client_secret, list(redirect_uris), scope, token_endpoint_auth_method
        )
        if grant_types is not None:
            client.grant_types = list(grant_types)
        client.revocation_auth_method = revocation_auth_method
        with self._backend.lock:
            self._backend.store.clients[client_id] = client

    def set_slow_down(self, n: int) -> None:
        """The next n device-code polls (still pending) answer slow_down."""
        with self._backend.lock:
            self._slow_down = n

    def take_slow_down(self) -> bool:
        if self._slow_down > 0:
            self._slow_down -= 1
            return True
        return False

    def pending_user_code(self, timeout: float = 5.0) -> str:
        """The latest user code awaiting a decision; waits for one to appear."""
        with self._backend.changed:
            ok = self._backend.changed.wait_for(
                lambda: self._backend.store.pending_user_codes(), timeout
            )
            if not ok:
                raise LookupError("no pending device authorization")
            return self._backend.store.pending_user_codes()[-1]

    def approve_device(self, user_code: str | None = None, *, timeout: float = 5.0) -> None:
        self._decide_device(user_code, True, timeout)

    def deny_device(self, user_code: str | None = None, *, timeout: float = 5.0) -> None:
        self._decide_device(user_code, False, timeout)

    def _decide_device(self, user_code: str | None, approved: bool, timeout: float) -> None:
        with self._backend.lock:
            code = user_code or self.pending_user_code(timeout)
            self._backend.store.device_grants[code] = (USER, approved)

    def expire_device(self, user_code: str | None = None) -> None:
        """Let a device authorization (default: the latest pending) run out of time."""
        with self._backend.lock:
            code = user_code or self.pending_user_code(0)
            for cred in self._backend.store.devices.values():
                if cred["user_code"] == code:
                    cred["expires_at"] = time.time() - 1

    def is_active(self, access_token: str) -> bool:
        with self._backend.lock:
            rec = self._backend.store.by_access.get(access_token)
            return rec is not None and rec.is_active()

    def revoked_families(self) -> int:
        """How many refresh families were revoked because a rotated token came back."""
        with self._backend.lock:
            return self._backend.store.reuse_revocations

    def expire_access_tokens(self) -> None:
        with self._backend.lock:
            for rec in self._backend.store.by_access.values():
                rec.expires_at = 0

    def issue_tokens(self, client_id: str, scope: str = "read") -> dict[str, Any]:
        """Mint an access + refresh token pair for a registered client, outside any flow."""
        with self._backend.lock:
            return self._backend.mint(client_id, scope)

    # -- request handling (called from the HTTP threads) ---------------------------------

    def _record(self, endpoint: str, req: FormRequest | JsonBodyRequest, **extra: Any) -> dict:
        headers = {h: req.headers[h] for h in _LOGGED_HEADERS if req.headers.get(h)}
        auth = req.headers.get("Authorization", "")
        form = getattr(req, "form", {})
        method = (
            "basic"
            if auth.lower().startswith("basic ")
            else "body"
            if form.get("client_secret")
            else "none"
        )
        entry = {
            "endpoint": endpoint,
            "method": req.method,
            "form": dict(form),
            "grant_type": form.get("grant_type"),
            "auth_method": method,
            "headers": headers,
            "time": time.time(),
            **extra,
        }
        self.requests.append(entry)
        return entry

    def handle(self, method: str, path: str, req: Any) -> tuple[int, bytes, str, list]:
        """Dispatch one request; returns (status, body, content type, extra headers)."""
        with self._backend.lock:
            try:
                result = self._dispatch(method, path, req)
            finally:
                self._backend.changed.notify_all()
        return result

    def _dispatch(self, method: str, path: str, req: Any) -> tuple[int, bytes, str, list]:
        srv = self._backend.server
        if path == "/authorize" and method == "GET":
            return self._authorize(req)
        if path in ("/token", "/refresh") and method == "POST":
            name = path[1:]
            grant = req.form.get("grant_type") or ""
            short = "device_code" if grant == DEVICE_CODE_GRANT_TYPE else grant
            self.counts["token"] += 1
            self.counts[f"token:{short}"] += 1
            refused = self._wrong_endpoint(name, grant)
            if refused is None and (reason := self._wrong_resource(req.form)):
                refused = ("invalid_target", reason)
            if refused:
                error, reason = refused
                self._record(name, req, status=400, error=error)
                body = {"error": error, "error_description": reason}
                return 400, json.dumps(body).encode(), "application/json", []
            status, body, headers = srv.create_token_response(req)
            self._record(name, req, status=status, error=body.get("error"))
            status, data, ctype = shape_token_response(self.quirks, status, body)
            return status, data, ctype, _extra(headers)
        routes = {
            "/revoke": ("revoke", "revocation"),
            "/register": ("register", "client_registration"),
            "/device_authorization": ("device_authorization", "device_authorization"),
        }
        if path in routes and method == "POST":
            name, endpoint = routes[path]
            self.counts[name] += 1
            status, body, headers = srv.create_endpoint_response(endpoint, req)
            entry = self._record(name, req, status=status, error=body.get("error"))
            if name == "register":
                entry["json"] = req.payload.data
            if name == "revoke" and status == 200 and "revoke_204" in self.quirks:
                return 204, b"", "application/json", _extra(headers)  # revoked, no body
            return status, json.dumps(body).encode(), "application/json", _extra(headers)
        wellknown = {
            "/.well-known/oauth-authorization-server": "oauth",
            "/.well-known/openid-configuration": "oidc",
        }
        if wellknown.get(path) in self.metadata_at and method == "GET":
            return 200, json.dumps(self.metadata()).encode(), "application/json", []
        if path == "/device" and method == "GET":
            return self._device_page(req)
        if path == "/api/me":
            return self._api(req)
        return 404, b'{"error": "not_found"}', "application/json", []

    def _wrong_endpoint(self, name: str, grant: str) -> tuple[str, str] | None:
        """/refresh takes refresh_token grants only; /token refuses them under the
        `refresh_elsewhere` quirk (a provider with its own refresh endpoint)."""
        if name == "refresh" and grant != "refresh_token":
            return "unsupported_grant_type", "this endpoint takes refresh_token grants only"
        if name == "token" and grant == "refresh_token" and "refresh_elsewhere" in self.quirks:
            return "unsupported_grant_type", "refresh tokens are refreshed at /refresh"
        return None

    def _wrong_resource(self, form: dict[str, str]) -> str | None:
        """RFC 8707 §2.2: a token request's `resource` must be the one its grant was for."""
        store = self._backend.store
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = store.codes.get(form.get("code", ""))
            bound = code.resource if code else None
        elif grant == "refresh_token":
            rec = store.by_refresh.get(form.get("refresh_token", ""))
            bound = rec.resource if rec else None
        else:
            return None
        asked = form.get("resource")
        if asked is not None and bound is not None and asked != bound:
            return f"resource {asked} is not the one authorized ({bound})"
        if bound is not None and asked is None and grant == "authorization_code":
            return "the authorization was for a resource; the token request names none"
        return None

    def token_info(self, access_token: str) -> dict[str, Any] | None:
        """What an introspection endpoint would say about an active token (RFC 7662)."""
        with self._backend.lock:
            rec = self._backend.store.by_access.get(access_token)
            if rec is None or not rec.is_active():
                return None
            return {
                "client_id": rec.client_id,
                "scope": rec.scope,
                "exp": int(rec.expires_at),
                "aud": rec.resource,
            }

    def _authorize(self, req: FormRequest) -> tuple[int, bytes, str, list]:
        srv = self._backend.server
        self.counts["authorize"] += 1
        try:
            grant = srv.get_consent_grant(req)
        except OAuth2Error as error:
            status, body, headers = srv.handle_error_response(req, error)
            return status, json.dumps(body).encode() if body else b"", "application/json", headers
        user = None if self.deny_next_authorization else USER
        self.deny_next_authorization = False
        status, body, headers = srv.create_authorization_response(req, user, grant)
        return status, b"", "text/plain", headers

    def _device_page(self, req: FormRequest) -> tuple[int, bytes, str, list]:
        code = req.args.get("user_code")
        if code and self.device_auto_approve:
            self._backend.store.device_grants[code] = (USER, True)
            return 200, b"<p>Device approved.</p>", "text/html", []
        return 200, b"<form><input name=user_code><button>Continue</button></form>", "text/html", []

    def _api(self, req: FormRequest) -> tuple[int, bytes, str, list]:
        self.counts["api"] += 1
        auth = req.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        store = self._backend.store
        rec = store.by_access.get(token.strip()) if scheme.lower() == "bearer" else None
        if rec is None or not rec.is_active():
            challenge = [("WWW-Authenticate", 'Bearer error="invalid_token"')]
            return 401, b'{"ok": false, "error": "invalid_token"}', "application/json", challenge
        body = {"ok": True, "client_id": rec.client_id, "scope": rec.scope}
        return 200, json.dumps(body).encode(), "application/json", []


def _extra(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-type"]


def basic_auth(client_id: str, client_secret: str) -> str:
    """An RFC 6749 2.3.1 Basic header value (test convenience)."""
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (test convenience)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
