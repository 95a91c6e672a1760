"""`oauth.header_name` / `oauth.header_prefix` in the schema: defaults, errors, round-trip."""

from __future__ import annotations

import json

import pytest

from authsome.errors import ProviderError
from authsome.providers import load_registry
from support.providers import oauth_definition, write_definition


def _write(home, name: str, **oauth) -> str:
    base = oauth_definition(name)["oauth"]
    return str(write_definition(home, oauth_definition(name, oauth={**base, **oauth})))


def test_absent_means_authorization_bearer_and_values_are_kept(home):
    _write(home, "old")  # a file written before the fields existed
    _write(home, "bare", header_name="X-Token", header_prefix=None)
    registry = load_registry(str(home))
    old, bare, shopify = (registry.get(n).oauth for n in ("old", "bare", "shopify"))
    assert (old.header_name, old.header_prefix) == ("Authorization", "Bearer")
    assert (bare.header_name, bare.header_prefix) == ("X-Token", None)
    assert (shopify.header_name, shopify.header_prefix) == ("X-Shopify-Access-Token", None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("header_name", "X Token"),
        ("header_name", "X-Token\r\nX-Evil: 1"),
        ("header_name", ""),
        ("header_name", None),
        ("header_name", ["X-Token"]),
        ("header_prefix", "Bearer\nX-Evil: 1"),
        ("header_prefix", 3),
    ],
)
def test_bad_values_name_the_file_and_field(home, run, field, value):
    path = _write(home, "acme", **{field: value})
    registry = load_registry(str(home))
    with pytest.raises(ProviderError) as info:
        registry.get("acme")
    assert (info.value.path, info.value.field) == (path, f"oauth.{field}")
    assert "hubspot" in {p.name for p in registry.all()}  # the others still load
    r = run("authsome", "list")
    assert r.returncode == 0 and "hubspot" in r.stdout
    assert path in r.stderr and f"oauth.{field}" in r.stderr
    assert "Traceback" not in r.stderr


def test_api_key_header_name_gets_the_same_check(home):
    definition = {
        "schema_version": 1,
        "name": "keyed",
        "display_name": "Keyed",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_key": {"header_name": "X-Api-Key:", "header_prefix": None},
    }
    path = str(write_definition(home, definition))
    with pytest.raises(ProviderError) as info:
        load_registry(str(home)).get("keyed")
    assert (info.value.path, info.value.field) == (path, "api_key.header_name")


def test_inspect_round_trip_keeps_the_header_fields(home, run):
    d = json.loads(run("authsome", "inspect", "shopify").stdout)
    assert d["oauth"]["header_name"] == "X-Shopify-Access-Token"
    assert d["oauth"]["header_prefix"] is None
    hubspot = json.loads(run("authsome", "inspect", "hubspot").stdout)
    assert (hubspot["oauth"]["header_name"], hubspot["oauth"]["header_prefix"]) == (
        "Authorization",
        "Bearer",
    )
    d["oauth"]["scopes"] = ["read_products"]
    write_definition(home, d)
    shopify = load_registry(str(home)).get("shopify")
    assert shopify.source == "custom"
    assert (shopify.oauth.header_name, shopify.oauth.header_prefix) == (
        "X-Shopify-Access-Token",
        None,
    )
    assert json.loads(run("authsome", "inspect", "shopify").stdout) == d
