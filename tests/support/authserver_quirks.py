"""Token-endpoint response shapes of real providers that stray from RFC 6749 5.1/5.2.

Pure function over (status, JSON body): the test authorization server answers the RFC
shape from authlib, then bends it here so the OAuth engine can be tested against
GitHub's and Slack's habits without talking to them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

# `revoke_204`: the revocation endpoint answers 204 without a body instead of RFC 7009's 200.
# `json_body`: the token and revocation endpoints read a JSON object, not a form (Notion).
# `json_revoke`: the revocation endpoint alone reads a JSON object (QuickBooks).
# `refresh_elsewhere`: /token refuses refresh_token grants; /refresh takes them (Figma).
# `unicode_token`: an access token with a character no HTTP header can carry (U+20AC).
QUIRKS = frozenset(
    {
        "form", "error_200", "slack", "scope_list", "no_expires_in", "revoke_204", "json_body",
        "unicode_token", "refresh_elsewhere", "json_revoke",
    }
)  # fmt: skip


def shape_token_response(
    quirks: frozenset[str] | set[str], status: int, body: dict[str, Any]
) -> tuple[int, bytes, str]:
    """Return (status, body bytes, content type) for a token endpoint answer."""
    body = dict(body)
    failed = "error" in body
    if not failed:
        if "no_expires_in" in quirks:
            body.pop("expires_in", None)
        if "scope_list" in quirks and isinstance(body.get("scope"), str):
            body["scope"] = body["scope"].split()
        if "unicode_token" in quirks and isinstance(body.get("access_token"), str):
            body["access_token"] += "\u20ac"
    if "slack" in quirks:
        # Slack's oauth.v2.access: user tokens nested, comma scopes, errors as ok=false/200.
        if failed:
            body, status = {"ok": False, "error": body["error"]}, 200
        else:
            scope = body.get("scope", "")
            keys = ("access_token", "refresh_token", "expires_in")
            user = {k: body[k] for k in keys if k in body}
            user["scope"] = ",".join(scope if isinstance(scope, list) else scope.split())
            body = {"ok": True, "app_id": "A0TEST", "authed_user": user}
    if "error_200" in quirks and failed:
        status = 200  # GitHub answers token errors with 200 and an "error" field
    if "form" in quirks:
        flat = {k: " ".join(v) if isinstance(v, list) else v for k, v in body.items()}
        return status, urlencode(flat).encode(), "application/x-www-form-urlencoded"
    return status, json.dumps(body).encode(), "application/json"
