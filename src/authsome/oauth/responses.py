"""Parsing what OAuth endpoints answer: sans-IO, pure functions over (status, type, bytes).

Real providers stray from RFC 6749 §5 in known ways, each handled here:
- GitHub answers form-encoded unless asked for JSON, and sends errors with HTTP 200;
- Slack wraps everything in `ok: true|false`, and a user token may sit under `authed_user`;
- scope comes as a space- or comma-separated string, or a list; or not at all;
- expires_in may be missing (the token does not expire) or a string;
- extra fields (Salesforce `instance_url`, Slack `team`) are kept in TokenSet.extra.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

import attrs

from authsome.errors import OAuthError
from authsome.oauth.tokens import ClientCredentials, TokenSet
from authsome.protocol.authheader import secret_problem

_KNOWN = {"access_token", "refresh_token", "expires_in", "scope", "token_type", "ok"}
# Never copied into TokenSet.extra: extra may be displayed, secrets must not be.
_SECRET_HINTS = ("token", "secret", "code", "password", "key")
_MAX_DESCRIPTION = 200


def decode_body(content_type: str, body: bytes) -> dict[str, Any]:
    """JSON or form-encoded body -> dict; anything else -> OAuthError."""
    text = body.decode("utf-8", "replace").strip()
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype.endswith("json") or ctype.endswith("+json") or text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: a hostile, deep document
            raise OAuthError("the server answered malformed JSON", error="invalid_response")
        if not isinstance(data, dict):
            raise OAuthError("the server answered JSON that is not an object", "invalid_response")
        return data
    if ctype == "application/x-www-form-urlencoded" or (text and "=" in text and "<" not in text):
        return dict(parse_qsl(text, keep_blank_values=True))
    raise OAuthError(f"the server answered an unexpected {ctype or 'body'}", "invalid_response")


def raise_for_error(data: dict[str, Any], status: int) -> None:
    """RFC 6749 §5.2 errors, wherever the provider puts them (HTTP 4xx or 200)."""
    error = data.get("error")
    if data.get("ok") is False or data.get("ok") == "false":
        error = error or "unknown_error"  # Slack: {"ok": false, "error": "invalid_code"}
    if not error and status >= 400:
        error = f"http_{status}"
    if not error:
        return
    error = str(error) if not isinstance(error, dict) else str(error.get("code", "unknown_error"))
    description = data.get("error_description") or data.get("message") or ""
    text = f"{error}: {description}" if description else error
    raise OAuthError(_clean(text), error=error)


def parse_scopes(value: Any) -> list[str]:
    """'a b', 'a,b', ['a', 'b'] -> ['a', 'b']; None -> []."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(s).strip() for s in value if str(s).strip()]
    return [s for s in re.split(r"[\s,]+", str(value)) if s]


def parse_token_response(
    status: int,
    content_type: str,
    body: bytes,
    *,
    now: int,
    requested_scopes: list[str] | tuple[str, ...] = (),
    previous_refresh_token: str | None = None,
) -> TokenSet:
    """A token endpoint answer -> TokenSet, or OAuthError (with .error set)."""
    data = decode_body(content_type, body)
    raise_for_error(data, status)
    source = data
    if not data.get("access_token") and isinstance(data.get("authed_user"), dict):
        source = data["authed_user"]  # Slack: only user scopes requested
    access = source.get("access_token")
    if not access or not isinstance(access, str):
        raise OAuthError("the token response has no access_token", error="invalid_response")
    problem = secret_problem(access)
    if problem:
        raise OAuthError(f"the token response's access_token {problem}", "invalid_response")
    scopes = parse_scopes(source.get("scope")) or list(requested_scopes)
    extra = _extra(data)
    return TokenSet(
        access_token=access,
        refresh_token=_str_or_none(source.get("refresh_token")) or previous_refresh_token,
        expires_at=_expires_at(source.get("expires_in"), now),
        scopes=scopes,
        token_type=_token_type(source.get("token_type"), extra),
        extra=extra,
    )


@attrs.frozen
class DeviceAuthorization:
    """RFC 8628 §3.2: what the user is shown, and how we poll."""

    device_code: str = attrs.field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: int
    interval: int


def parse_device_authorization(
    status: int, content_type: str, body: bytes, *, now: int
) -> DeviceAuthorization:
    data = decode_body(content_type, body)
    raise_for_error(data, status)
    # Google says verification_url; RFC 8628 says verification_uri.
    uri = data.get("verification_uri") or data.get("verification_url")
    if not data.get("device_code") or not data.get("user_code") or not uri:
        raise OAuthError("the device authorization response is incomplete", "invalid_response")
    return DeviceAuthorization(
        device_code=str(data["device_code"]),
        user_code=str(data["user_code"]),
        verification_uri=str(uri),
        verification_uri_complete=_str_or_none(data.get("verification_uri_complete")),
        expires_at=now + _int(data.get("expires_in"), 900),
        interval=max(1, _int(data.get("interval"), 5)),
    )


def parse_registration(status: int, content_type: str, body: bytes) -> ClientCredentials:
    """RFC 7591 §3.2.1 client information response -> ClientCredentials."""
    data = decode_body(content_type, body)
    raise_for_error(data, status)
    if not data.get("client_id"):
        raise OAuthError("the registration response has no client_id", "invalid_response")
    return ClientCredentials(
        client_id=str(data["client_id"]),
        client_secret=_str_or_none(data.get("client_secret")),
        registration=data,
    )


# RFC 8414 metadata name -> OAuthConfig field.
METADATA_FIELDS = {
    "authorization_endpoint": "authorization_url",
    "token_endpoint": "token_url",
    "revocation_endpoint": "revocation_url",
    "device_authorization_endpoint": "device_authorization_url",
    "registration_endpoint": "registration_url",
}


def parse_metadata(status: int, content_type: str, body: bytes) -> dict[str, str]:
    """RFC 8414 server metadata -> {OAuthConfig field: url} for the endpoints it names."""
    data = decode_body(content_type, body)
    raise_for_error(data, status)
    return {field: str(data[name]) for name, field in METADATA_FIELDS.items() if data.get(name)}


def _extra(data: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if key in _KNOWN or any(h in key.lower() for h in _SECRET_HINTS):
            continue
        if isinstance(value, dict):  # Slack: team {id, name}, authed_user {id, ...}
            for sub, subval in value.items():
                if _scalar(subval) and not any(h in sub.lower() for h in _SECRET_HINTS):
                    out[f"{key}_{sub}"] = str(subval)
        elif _scalar(value):
            out[key] = str(value)
    return out


def _token_type(raw: Any, extra: dict[str, str]) -> str:
    # Slack says "bot"/"user" but wants `Authorization: Bearer`; keep its word in extra.
    value = str(raw or "Bearer")
    if value.lower() == "bearer":
        return "Bearer"
    if value.lower() == "dpop":
        return "DPoP"
    extra["provider_token_type"] = value
    return "Bearer"


def _expires_at(value: Any, now: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        seconds = int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 in JSON
        return None
    return now + seconds if seconds > 0 else None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _clean(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"
