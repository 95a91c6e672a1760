"""oauth.header_name / oauth.header_prefix: the one auth_header rule, and the helper's answer."""

from __future__ import annotations

import json

import pytest

from authsome.protocol.authheader import auth_header, header_field_problem
from support.providers import oauth_definition, write_definition

SHOPIFY = {"header_name": "X-Shopify-Access-Token", "header_prefix": None}


@pytest.mark.parametrize(
    ("oauth", "token_type", "expected"),
    [
        (None, "bearer", ("Authorization", "Bearer t")),  # no oauth block at all
        ({}, "bearer", ("Authorization", "Bearer t")),  # a file older than the fields
        ({}, "DPoP", ("Authorization", "DPoP t")),  # the default follows the token's type
        ({"header_prefix": "Bearer"}, "DPoP", ("Authorization", "DPoP t")),  # as inspect prints
        (SHOPIFY, "bearer", ("X-Shopify-Access-Token", "t")),
        ({"header_name": "X-Token", "header_prefix": ""}, "bearer", ("X-Token", "t")),
        ({"header_prefix": "token"}, "bearer", ("Authorization", "token t")),
        ({"header_name": "X-Token"}, None, ("X-Token", "Bearer t")),
    ],
)
def test_oauth_header_fields(oauth, token_type, expected):
    assert auth_header("oauth2", None, "t", token_type, oauth) == expected


def test_api_key_providers_ignore_the_oauth_block():
    api_key = {"header_name": "x-api-key", "header_prefix": None}
    assert auth_header("api_key", api_key, "k", "bearer", SHOPIFY) == ("x-api-key", "k")
    assert auth_header("api_key", {}, "k") == ("Authorization", "Bearer k")


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"header_name": "X Token"}, "header_name"),
        ({"header_name": "X-Token:"}, "header_name"),
        ({"header_name": "X-Token\r\nEvil: 1"}, "header_name"),
        ({"header_name": ""}, "header_name"),
        ({"header_name": None}, "header_name"),
        ({"header_name": 7}, "header_name"),
        ({"header_prefix": "Bearer\r\nEvil: 1"}, "header_prefix"),
        ({"header_prefix": "Bear\ter"}, "header_prefix"),
        ({"header_prefix": 1}, "header_prefix"),
    ],
)
def test_unusable_header_fields(cfg, field):
    assert header_field_problem(cfg)[0] == field


def test_usable_header_fields():
    for cfg in (None, {}, SHOPIFY, {"header_name": "x-api-key", "header_prefix": "Token"}):
        assert header_field_problem(cfg) is None


def _store(run, provider: str, body: dict) -> None:
    r = run("authsome-helper", "store", provider, input=json.dumps(body))
    assert r.returncode == 0, r.stderr


def test_helper_get_shopify_answers_its_own_header(home, run):
    # The helper's store takes no template values: the header does not depend on the shop.
    _store(run, "shopify", {"access_token": "shpat_abc123", "expires_in": 3600})
    answer = json.loads(run("authsome-helper", "get", "shopify").stdout)
    assert answer["headers"] == {"X-Shopify-Access-Token": "shpat_abc123"}
    assert answer["token_type"] == "Bearer" and answer["access_token"] == "shpat_abc123"
    assert answer["env"] == {"SHOPIFY_ACCESS_TOKEN": "shpat_abc123"}


def test_fast_path_and_service_agree(home, run):
    oauth = {**oauth_definition("tapi")["oauth"], "header_name": "X-Test-Token"}
    write_definition(home, oauth_definition("tapi", oauth=oauth))
    _store(run, "tapi", {"access_token": "tok-1", "expires_in": 3600})
    fast = json.loads(run("authsome-helper", "get", "tapi").stdout)
    # min_ttl beyond the expiry: the fast path declines and the full service answers
    # (no refresh token: it warns and hands out the still-valid token).
    r = run("authsome-helper", "get", "tapi", input='{"min_ttl": 7200}')
    assert r.returncode == 0 and "warning" in r.stderr
    assert fast["headers"] == json.loads(r.stdout)["headers"] == {"X-Test-Token": "Bearer tok-1"}


def test_bad_header_name_is_reported_not_served(home, run):
    oauth = oauth_definition("tapi")["oauth"]
    path = write_definition(home, oauth_definition("tapi", oauth=oauth))
    _store(run, "tapi", {"access_token": "tok-2", "expires_in": 3600})
    broken = oauth_definition("tapi", oauth={**oauth, "header_name": "X-Token\r\nEvil: 1"})
    path.write_text(json.dumps(broken))
    r = run("authsome-helper", "get", "tapi")  # the fast path must not answer with it
    assert r.returncode != 0 and "tok-2" not in r.stdout + r.stderr
    assert str(path) in r.stderr and "oauth.header_name" in r.stderr
    assert "Traceback" not in r.stderr
