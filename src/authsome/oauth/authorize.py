"""The authorization request and its callback (RFC 6749 §4.1, RFC 7636): sans-IO."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import attrs

from authsome.errors import OAuthError

CALLBACK_PATH = "/auth/callback/oauth"


def redirect_uri(port: int) -> str:
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_verifier() -> str:
    """RFC 7636 §4.1: 43-128 unreserved characters; 48 random bytes -> 64."""
    return secrets.token_urlsafe(48)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect: str,
    scopes: list[str],
    state: str,
    verifier: str | None,
    extra_params: dict[str, str] | None = None,
    scope_separator: str = " ",
) -> str:
    """The URL the browser opens. Provider params first, so they cannot override ours."""
    params: dict[str, str] = dict(extra_params or {})
    params.update(response_type="code", client_id=client_id, redirect_uri=redirect, state=state)
    if scopes:
        params["scope"] = scope_separator.join(scopes)
    if verifier:
        params["code_challenge"] = s256(verifier)
        params["code_challenge_method"] = "S256"
    parts = urlsplit(endpoint)
    # %20 or a bare comma between scopes, as providers document them
    encoded = urlencode(params, safe=",", quote_via=quote)
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@attrs.frozen
class CallbackResult:
    """What the redirect brought back: a code, or the error that ends the login."""

    code: str | None = attrs.field(default=None, repr=False)
    error: OAuthError | None = None


def parse_callback(query: str, expected_state: str) -> CallbackResult:
    """Check `state` (constant time) before anything else, then take code or error."""
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        return CallbackResult(
            error=OAuthError(
                "the sign-in answer carried the wrong state (a stale or forged redirect); "
                "login aborted",
                error="state_mismatch",
            )
        )
    if params.get("error"):
        error = params["error"]
        description = " ".join(params.get("error_description", "").split())[:200]
        message = f"the provider refused the sign-in: {error}" + (
            f" ({description})" if description else ""
        )
        return CallbackResult(error=OAuthError(message, error=error))
    if not params.get("code"):
        return CallbackResult(error=OAuthError("the redirect carried no code", "invalid_request"))
    return CallbackResult(code=params["code"])
