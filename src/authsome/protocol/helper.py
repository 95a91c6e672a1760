"""The `authsome-helper` JSON protocol (SPEC §5), sans-IO: requests in, dicts out.

Import-light on purpose: the helper's hot path builds its answer with these.
"""

from __future__ import annotations

import time

from authsome.errors import AuthsomeError, UsageError
from authsome.protocol import jsonlite
from authsome.protocol.authheader import secret_headers, secret_query
from authsome.providers.rules import secret_env_var
from authsome.records import rfc3339, secret_of

PROTOCOL = 1
MAX_SPAN = 100 * 366 * 86400
ACTIONS = ("get", "store", "erase", "refresh", "list", "version", "k8s", "headers")
FIELD_TYPES = {
    "provider": str,
    "connection": str,
    "min_ttl": (int, float),
    "access_token": str,
    "refresh_token": str,
    "expires_at": str,
    "expires_in": (int, float),
    "scopes": (list, str),
    "token_type": str,
    "api_key": str,
    "revoke": bool,
    "uri": str,
}


def parse_request(stdin: bytes | str, overrides: dict) -> dict:
    """Merge stdin's JSON object with argument fields (arguments win); check field types."""
    if isinstance(stdin, bytes):
        try:
            stdin = stdin.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("stdin is not UTF-8") from None
    request: dict = {}
    if stdin.strip():
        try:
            request = jsonlite.loads(stdin)
        except ValueError as exc:
            raise UsageError(f"stdin is not valid JSON: {exc.msg} at position {exc.pos}") from None
        except RecursionError:  # json's decoder recurses: deep nesting is not a request
            raise UsageError("stdin is not valid JSON: nested too deeply") from None
        if not isinstance(request, dict):
            raise UsageError("stdin must hold one JSON object")
    request.update({k: v for k, v in overrides.items() if v is not None})
    for field, types in FIELD_TYPES.items():
        value = request.get(field)
        if value is None:
            continue
        # bool is an int in Python; a JSON true is not a number of seconds.
        if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
            raise UsageError(f"field '{field}' has the wrong type")
    scopes = request.get("scopes")
    if isinstance(scopes, list) and not all(isinstance(s, str) for s in scopes):
        raise UsageError("field 'scopes' must be a list of strings")
    expires_in = request.get("expires_in")
    # JSON's Infinity, NaN and 1e400 parse as floats, but are no span of seconds.
    if expires_in is not None and not abs(expires_in) <= MAX_SPAN:
        raise UsageError("field 'expires_in' must be a number of seconds (at most 100 years)")
    min_ttl = request.get("min_ttl")
    if min_ttl is not None and not 0 <= min_ttl <= 86400 * 366:
        raise UsageError("field 'min_ttl' must be between 0 and a year, in seconds")
    return request


def env_for(auth_type: str, env: dict, api_key_cfg: dict | None, secret: str) -> dict[str, str]:
    """Env var name -> secret. Only the usable secret: a refresh token is never exported."""
    name = secret_env_var(auth_type, env, (api_key_cfg or {}).get("env_var"))
    return {name: secret} if name else {}


def credential_response(
    record: dict,
    auth_type: str,
    env: dict,
    api_key_cfg: dict | None,
    now: float | None = None,
    oauth_cfg: dict | None = None,
) -> dict:
    """The answer to `get` / `refresh` (SPEC §5); the header follows `auth_header`.

    A key that goes in a URL query parameter (`api_key.query_param`) gets no header
    (`headers` is {}) and a `query_params` field naming the parameter instead.
    """
    now = time.time() if now is None else now
    secret = secret_of(record) or ""
    expires_at = record.get("expires_at")
    headers = secret_headers(auth_type, api_key_cfg, secret, record.get("token_type"), oauth_cfg)
    answer = {
        "protocol": PROTOCOL,
        "provider": record["provider"],
        "connection": record["connection"],
        "status": "connected",
        "token_type": record.get("token_type") or "Bearer",
    }
    answer["api_key" if auth_type == "api_key" else "access_token"] = secret
    answer.update(
        {
            "expires_at": rfc3339(expires_at),
            "expires_in": None if expires_at is None else max(0, int(expires_at - now)),
            "scopes": list(record.get("scopes") or []),
            "headers": headers,
            "env": env_for(auth_type, env, api_key_cfg, secret),
        }
    )
    query = secret_query(auth_type, api_key_cfg, secret)
    if query:
        answer["query_params"] = query
    step_up = record.get("step_up")
    if isinstance(step_up, dict):  # a 403 insufficient_scope the proxy saw (proxy/stepup.py)
        answer["missing_scopes"] = list(step_up.get("scopes") or [])
    return answer


def answer_secret(answer: dict) -> str:
    """The usable secret in a `get` answer (access token or API key; '' when empty)."""
    return answer.get("access_token") or answer.get("api_key") or ""


def answer_expiry(answer: dict, now: float | None = None) -> int | None:
    """When the answer's secret expires (epoch seconds, from `expires_in`), or None."""
    expires_in = answer.get("expires_in")
    return None if expires_in is None else int(time.time() if now is None else now) + expires_in


def error_response(exc: AuthsomeError) -> dict:
    error = {"code": exc.code, "message": str(exc)}
    scopes = getattr(exc, "scopes", None)  # StepUpRequired: the scopes to log in with
    if scopes is not None:
        error["scopes"] = scopes
    return {"protocol": PROTOCOL, "error": error}


def ok_response() -> dict:
    return {"protocol": PROTOCOL, "ok": True}


def encode(message: dict) -> str:
    return jsonlite.dumps(message, separators=(", ", ": ")) + "\n"
