"""Token-response parsing: the RFC shape and each provider quirk (pure, no I/O)."""

from __future__ import annotations

import json

import pytest

from authsome.errors import OAuthError
from authsome.oauth.responses import (
    parse_device_authorization,
    parse_metadata,
    parse_registration,
    parse_scopes,
    parse_token_response,
)

NOW = 1_700_000_000
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def parse(body, ctype=JSON, status=200, **kw):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    return parse_token_response(status, ctype, raw, now=NOW, **kw)


def test_rfc_json():
    t = parse(
        {
            "access_token": "at",
            "refresh_token": "rt",
            "expires_in": 3600,
            "token_type": "bearer",
            "scope": "read write",
        }
    )
    assert (t.access_token, t.refresh_token, t.expires_at) == ("at", "rt", NOW + 3600)
    assert t.scopes == ["read", "write"] and t.token_type == "Bearer" and t.extra == {}


def test_github_form_encoded():
    body = b"access_token=gho_abc&scope=repo%2Cread%3Aorg&token_type=bearer"
    t = parse(body, ctype=FORM)
    assert t.access_token == "gho_abc" and t.scopes == ["repo", "read:org"]
    assert t.expires_at is None  # no expires_in: does not expire


def test_form_encoded_without_content_type():
    t = parse(b"access_token=x1&expires_in=60", ctype="text/plain")
    assert t.access_token == "x1" and t.expires_at == NOW + 60  # string expires_in


@pytest.mark.parametrize(
    "body,ctype",
    [
        (b"error=bad_verification_code&error_description=The+code+is+wrong", FORM),
        (json.dumps({"error": "bad_verification_code"}).encode(), JSON),
    ],
)
def test_github_error_with_http_200(body, ctype):
    with pytest.raises(OAuthError) as e:
        parse(body, ctype=ctype)
    assert e.value.error == "bad_verification_code"


def test_rfc_error_400_invalid_grant():
    with pytest.raises(OAuthError) as e:
        parse({"error": "invalid_grant", "error_description": "expired"}, status=400)
    assert e.value.error == "invalid_grant" and "expired" in str(e.value)


def test_slack_ok_false():
    with pytest.raises(OAuthError) as e:
        parse({"ok": False, "error": "invalid_code"})
    assert e.value.error == "invalid_code"


def test_slack_bot_token_and_team():
    t = parse(
        {
            "ok": True,
            "access_token": "xoxb-1",
            "token_type": "bot",
            "scope": "chat:write,channels:read",
            "team": {"id": "T1", "name": "Acme"},
            "authed_user": {"id": "U1", "access_token": "xoxp-9"},
        }
    )
    assert t.access_token == "xoxb-1" and t.scopes == ["chat:write", "channels:read"]
    assert t.token_type == "Bearer"  # Slack wants Bearer whatever it calls the token
    assert t.extra["team_id"] == "T1" and t.extra["authed_user_id"] == "U1"
    assert "xoxp-9" not in json.dumps(t.extra)


def test_slack_user_token_under_authed_user():
    t = parse(
        {
            "ok": True,
            "app_id": "A1",
            "authed_user": {
                "id": "U1",
                "scope": "search:read,users:read",
                "access_token": "xoxp-1",
                "refresh_token": "xoxe-1",
                "expires_in": 43200,
                "token_type": "user",
            },
        }
    )
    assert (t.access_token, t.refresh_token) == ("xoxp-1", "xoxe-1")
    assert t.scopes == ["search:read", "users:read"] and t.expires_at == NOW + 43200
    assert t.extra["app_id"] == "A1"


def test_scope_as_list_and_missing_scope():
    assert parse({"access_token": "a", "scope": ["x", "y"]}).scopes == ["x", "y"]
    assert parse({"access_token": "a"}, requested_scopes=["r"]).scopes == ["r"]


def test_extra_fields_kept_secrets_dropped():
    t = parse(
        {
            "access_token": "a",
            "instance_url": "https://eu1.my.salesforce.com",
            "id_token": "eyJ.secret",
            "issued_at": 123,
        }
    )
    assert t.extra == {"instance_url": "https://eu1.my.salesforce.com", "issued_at": "123"}


def test_refresh_token_kept_when_not_rotated():
    t = parse({"access_token": "new"}, previous_refresh_token="old-rt")
    assert t.refresh_token == "old-rt"


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b"[1,2]", b"{bad json"])
def test_garbage_is_an_oauth_error(body):
    with pytest.raises(OAuthError):
        parse(body, ctype="text/html")


def test_no_access_token():
    with pytest.raises(OAuthError) as e:
        parse({"token_type": "bearer"})
    assert e.value.error == "invalid_response"


def test_parse_scopes():
    assert parse_scopes("a b,c  d") == ["a", "b", "c", "d"]
    assert parse_scopes(None) == [] and parse_scopes(["a", " "]) == ["a"]


def test_device_authorization():
    body = json.dumps(
        {
            "device_code": "dc",
            "user_code": "ABCD-EFGH",
            "verification_url": "https://example.com/device",
        }
    ).encode()
    d = parse_device_authorization(200, JSON, body, now=NOW)
    assert d.verification_uri == "https://example.com/device"  # Google's spelling
    assert d.interval == 5 and d.expires_at == NOW + 900
    assert "dc" not in repr(d)


def test_registration_and_metadata():
    c = parse_registration(201, JSON, json.dumps({"client_id": "c1"}).encode())
    assert c.client_id == "c1" and c.client_secret is None
    m = parse_metadata(
        200, JSON, json.dumps({"token_endpoint": "https://a/t", "issuer": "https://a"}).encode()
    )
    assert m == {"token_url": "https://a/t"}
