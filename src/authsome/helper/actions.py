"""The helper's slower actions: store, erase, refresh, list (they load the full service)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from authsome.credentials import CredentialService
from authsome.entrypoints import warn
from authsome.errors import UsageError
from authsome.oauth.tokens import TokenSet
from authsome.protocol.helper import PROTOCOL, ok_response
from authsome.records import parse_rfc3339, rfc3339


def tokens_from_request(request: dict, now: float | None = None) -> TokenSet:
    """A TokenSet from `store`'s fields (expires_at RFC 3339 or expires_in seconds)."""
    access = request.get("access_token")
    if not access:
        raise UsageError("store needs 'access_token' (or 'api_key')")
    expires_at = None
    if request.get("expires_at") is not None:
        try:
            expires_at = parse_rfc3339(request["expires_at"])
        except ValueError:
            raise UsageError("field 'expires_at' must be an RFC 3339 time") from None
    elif request.get("expires_in") is not None:
        expires_at = int((time.time() if now is None else now) + request["expires_in"])
    scopes = request.get("scopes") or []
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    return TokenSet(
        access_token=access,
        refresh_token=request.get("refresh_token"),
        expires_at=expires_at,
        scopes=list(scopes),
        token_type=request.get("token_type") or "Bearer",
    )


def _provider(request: dict) -> str:
    provider = request.get("provider")
    if not provider:
        raise UsageError("a provider is required (authsome-helper ACTION PROVIDER)")
    return provider


def run(action: str, request: dict, connection: str, emit: Callable[[dict], None]) -> int:
    service = CredentialService(warn=warn)
    if action == "refresh":
        emit(
            service.get(_provider(request), connection, request.get("min_ttl", 60), True).response()
        )
        return 0
    if action == "store":
        provider = _provider(request)
        if request.get("api_key") is not None:
            if request.get("access_token"):
                raise UsageError("give either 'api_key' or 'access_token', not both")
            service.store_api_key(provider, connection, request["api_key"])
        else:
            tokens = tokens_from_request(request)
            service.registry.get(provider)
            service.store_token(provider, connection, tokens)
        emit(ok_response())
        return 0
    if action == "erase":
        result = service.erase(_provider(request), connection, request.get("revoke", True))
        if result.revoke_error:
            print(
                f"authsome-helper: warning: could not revoke: {result.revoke_error}",
                file=sys.stderr,
            )
        emit(ok_response())
        return 0
    if action == "list":
        connections = [
            {
                "provider": c.provider,
                "connection": c.connection,
                "status": c.status,
                "expires_at": rfc3339(c.expires_at),
            }
            for c in service.list()
            if not request.get("provider") or c.provider == request["provider"]
        ]
        emit({"protocol": PROTOCOL, "connections": connections})
        return 0
    raise UsageError(f"unknown action '{action}'")
