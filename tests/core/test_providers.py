"""Provider registry: bundled vs custom, broken files, inspect round-trip, host matching."""

from __future__ import annotations

import json

import pytest

from authsome.errors import ProviderError, UnknownProvider
from authsome.providers import load_registry
from authsome.providers.matching import match_url

HUBSPOT_SCOPES = [
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.owners.read",
]


def test_inspect_hubspot_prints_the_product_page_values(home, run):
    r = run("authsome", "inspect", "hubspot")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["display_name"] == "HubSpot"
    assert (d["auth_type"], d["flow"]) == ("oauth2", "pkce")
    assert d["oauth"]["pkce"] is False
    assert d["oauth"]["supports_device_code"] is False
    assert d["oauth"]["supports_dcr"] is False
    assert d["oauth"]["scopes"] == HUBSPOT_SCOPES
    assert d["oauth"]["authorization_url"] == "https://app.hubspot.com/oauth/authorize"
    assert d["api_url"] == ["api.hubapi.com"]
    assert d["env"] == {
        "access_token": "HUBSPOT_ACCESS_TOKEN",
        "refresh_token": "HUBSPOT_REFRESH_TOKEN",
    }


def _source(run, name):
    r = run("authsome", "list", "--json")
    assert r.returncode == 0, r.stderr
    return {p["name"]: p for p in json.loads(r.stdout)}[name]["source"]


def test_saved_inspect_output_overrides_the_bundled_definition(home, run):
    assert _source(run, "hubspot") == "bundled"
    d = json.loads(run("authsome", "inspect", "hubspot").stdout)
    d["oauth"]["scopes"] = ["crm.objects.contacts.read"]
    d["x_unknown_field"] = {"kept": True}
    (home / "providers").mkdir(parents=True, exist_ok=True)
    (home / "providers" / "hubspot.json").write_text(json.dumps(d))
    assert _source(run, "hubspot") == "custom"
    again = json.loads(run("authsome", "inspect", "hubspot").stdout)
    assert again["oauth"]["scopes"] == ["crm.objects.contacts.read"]
    assert again["x_unknown_field"] == {"kept": True}


def test_a_broken_user_file_is_reported_and_the_others_still_load(home, run):
    (home / "providers").mkdir(parents=True, exist_ok=True)
    broken = home / "providers" / "acme.json"
    broken.write_text(
        json.dumps(
            {
                "name": "acme",
                "display_name": "A",
                "auth_type": "oauth2",
                "flow": "pkce",
                "oauth": {"token_url": 42},
            }
        )
    )
    registry = load_registry(str(home))
    names = {p.name for p in registry.all()}
    assert "hubspot" in names and "acme" not in names
    [error] = registry.errors
    assert error.path == str(broken) and error.field == "oauth.token_url"
    r = run("authsome", "list")
    assert r.returncode == 0 and "hubspot" in r.stdout
    assert str(broken) in r.stderr and "oauth.token_url" in r.stderr
    r = run("authsome-helper", "get", "acme")
    assert r.returncode == 2
    assert json.loads(r.stdout)["error"]["code"] == "bad_request"
    assert "oauth.token_url" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_an_odd_but_valid_key_pattern_loads_quietly(home, run):
    """`re` warns about patterns such as `[[`; that warning is not the user's to read."""
    (home / "providers").mkdir(parents=True, exist_ok=True)
    definition = {
        "name": "oddkey",
        "display_name": "Odd",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_url": ["api.odd.test"],
        "api_key": {"header_name": "X-Key", "header_prefix": None, "key_pattern": "^[[a-z]+$"},
    }
    (home / "providers" / "oddkey.json").write_text(json.dumps(definition))
    r = run("authsome", "login", "oddkey", "--api-key-stdin", input="abc[\n")
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr
    r = run("authsome", "list")
    assert r.returncode == 0 and "oddkey" in r.stdout and r.stderr == ""


@pytest.mark.parametrize(
    "data, field",
    [
        ({"auth_type": "magic"}, "auth_type"),
        ({"oauth": {"token_url": "http://evil.example.com/token"}}, "oauth.token_url"),
        ({"env": {"access_token": "lower-case"}}, "env.access_token"),
        ({"api_url": ["regex:(unclosed"]}, "api_url[0]"),
        ({"name": "other"}, "name"),
    ],
)
def test_schema_violations_name_the_field(home, data, field):
    base = {
        "schema_version": 1,
        "name": "acme",
        "display_name": "Acme",
        "auth_type": "oauth2",
        "flow": "pkce",
        "oauth": {"token_url": "https://acme.example.com/token"},
    }
    for k, v in data.items():
        base[k] = v
    (home / "providers").mkdir(parents=True, exist_ok=True)
    (home / "providers" / "acme.json").write_text(json.dumps(base))
    with pytest.raises(ProviderError) as info:
        load_registry(str(home)).get("acme")
    assert info.value.field == field


def test_loopback_http_endpoints_are_allowed(home):
    (home / "providers").mkdir(parents=True, exist_ok=True)
    (home / "providers" / "dev.json").write_text(
        json.dumps(
            {
                "name": "dev",
                "display_name": "Dev",
                "auth_type": "oauth2",
                "flow": "pkce",
                "oauth": {"token_url": "http://127.0.0.1:9999/token"},
            }
        )
    )
    assert load_registry(str(home)).get("dev").oauth.token_url.startswith("http://127.0.0.1")


def test_original_authsome_file_format_loads(home):
    (home / "providers").mkdir(parents=True, exist_ok=True)
    (home / "providers" / "legacy.json").write_text(
        "// a provider written for the original authsome\n"
        + json.dumps(
            {
                "name": "legacy",
                "display_name": "Legacy",
                "auth_type": "api_key",
                "host_url": "api.legacy.example.com",
                "api_key": {"header_name": "X-Key", "header_prefix": None},
                "export": {"api_key": "LEGACY_KEY"},
            }
        )
    )
    p = load_registry(str(home)).get("legacy")
    assert p.api_url == ["api.legacy.example.com"] and p.env == {"api_key": "LEGACY_KEY"}


def test_unknown_provider(home):
    with pytest.raises(UnknownProvider):
        load_registry(str(home)).get("no-such-provider")


@pytest.mark.parametrize(
    "entries, host, path, expected",
    [
        ([("a", "api.example.com")], "api.example.com", "/x", "a"),
        ([("a", "api.example.com")], "API.Example.com:443", "/", "a"),
        ([("a", "api.example.com")], "other.example.com", "/", None),
        ([("a", "api.example.com"), ("b", "api.example.com/v2")], "api.example.com", "/v2/x", "b"),
        ([("a", "api.example.com"), ("b", "api.example.com/v2")], "api.example.com", "/v20", "a"),
        (
            [("a", "regex:.*\\.example\\.com"), ("b", "api.example.com")],
            "api.example.com",
            "/",
            "b",
        ),
        ([("a", "regex:.*\\.example\\.com")], "x.example.com", "/", "a"),
        ([("a", "regex:.*\\.example\\.com")], "x.example.com.evil.net", "/", None),
        ([("a", "api.example.com"), ("b", "api.example.com")], "api.example.com", "/", None),
        ([("a", "regex:a.*"), ("b", "regex:.*z")], "abz", "/", None),
        ([("a", "api.example.com:8443")], "api.example.com:8443", "/", "a"),
    ],
)
def test_host_matching(entries, host, path, expected):
    assert match_url(entries, host, path) == expected
