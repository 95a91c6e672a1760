"""The pure template rules: normalizing values, --set parsing, from_token precedence,
and the check of the filled endpoints."""

from __future__ import annotations

import pytest

from authsome.errors import UsageError
from authsome.providers.loader import parse_definition
from authsome.providers.templates import (
    check_filled,
    fill_provider,
    missing_params,
    normalize_value,
    params_from_token,
    parse_assignments,
)
from catalog.conftest import templated_provider


def provider(**templates):
    base = templated_provider()
    base["templates"].update(templates)
    return parse_definition(base)


@pytest.mark.parametrize(
    "raw, value",
    [
        ("https://acme.my.salesforce.com/", "acme.my.salesforce.com"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("  gitlab.example.com/gitlab  ", "gitlab.example.com/gitlab"),
        ("[::1]:9", "[::1]:9"),
    ],
)
def test_normalize(raw, value):
    assert normalize_value("x", raw) == value


@pytest.mark.parametrize("raw", ["", "a b", "a/../b", "a?b=c", "a#b", "a@b", "é.example"])
def test_normalize_refuses(raw):
    with pytest.raises(UsageError):
        normalize_value("x", raw)


def test_parse_assignments():
    p = provider()
    assert parse_assignments(["host=https://h.test/", "tenant=acme"], p) == {
        "host": "h.test",
        "tenant": "acme",
    }
    for bad in (["nohost"], ["=x"], ["host="], ["color=blue"]):
        with pytest.raises(UsageError):
            parse_assignments(bad, p)


def test_missing_skips_defaults_and_from_token():
    p = provider(
        region={"description": "r", "example": "eu", "default": "us"},
        instance={"description": "i", "example": "x", "from_token": "instance_url"},
    )
    assert missing_params(p, {}) == ["host", "tenant"]
    assert missing_params(p, {"host": "h", "tenant": "t"}) == []


def test_token_value_wins_and_absence_keeps_the_given_one():
    p = provider(instance={"description": "i", "example": "x", "from_token": "instance_url"})
    given = {"host": "h", "instance": "mine.test"}
    extra = {"instance_url": "https://theirs.test"}
    assert params_from_token(p, given, extra)["instance"] == "theirs.test"
    assert params_from_token(p, given, {})["instance"] == "mine.test"
    assert params_from_token(p, {"host": "h"}, {"instance_url": ""}) == {"host": "h"}


def test_fill_and_check():
    p = provider()
    filled = fill_provider(p, {"host": "127.0.0.1:9", "tenant": "acme"})
    assert filled.oauth.token_url == "http://127.0.0.1:9/token"
    assert filled.api_url == ["acme.tenant.test"]
    check_filled(filled)
    with pytest.raises(UsageError, match="https://"):
        check_filled(fill_provider(p, {"host": "evil.test", "tenant": "acme"}))
    with pytest.raises(UsageError, match="--set host="):
        check_filled(fill_provider(p, {"tenant": "acme"}))


def test_definition_check_still_refuses_plain_http_hosts():
    from authsome.errors import ProviderError

    bad = templated_provider()
    bad["oauth"]["token_url"] = "http://idp.example.com/token"
    with pytest.raises(ProviderError):
        parse_definition(bad)


# -- a value stays in its place (#19 item 6) ---------------------------------------------


def bundled(name: str):
    import os

    from authsome.providers.loader import BUNDLED_DIR, load_file

    return load_file(os.path.join(BUNDLED_DIR, name + ".json"), "bundled")


@pytest.mark.parametrize(
    "name, key, value",
    [
        ("mailchimp", "dc", "evil.test:8443/x"),
        ("mailchimp", "dc", "evil.test"),
        ("mailchimp", "dc", "us21.evil.test"),
        ("mailchimp", "dc", "xn--zz"),  # not valid IDNA
        ("mailchimp", "dc", "-us21"),
        ("zendesk", "subdomain", "evil.test/x"),
        ("zendesk", "subdomain", "acme:443"),
        ("shopify", "shop", "acme.evil.test"),
        ("microsoft", "tenant", "a/b"),
        ("github-enterprise", "base_url", "gh.acme.test:99999"),
        ("github-enterprise", "base_url", "gh..acme.test"),
        ("github-enterprise", "base_url", "gh_acme.test"),
    ],
)
def test_a_value_cannot_leave_its_place_in_the_url(name, key, value):
    with pytest.raises(UsageError):
        parse_assignments([f"{key}={value}"], bundled(name))


@pytest.mark.parametrize(
    "name, key, value, stored",
    [
        ("mailchimp", "dc", "US21", "us21"),
        ("mailchimp", "dc", "xn--bcher-kva", "xn--bcher-kva"),
        ("zendesk", "subdomain", "acme-support", "acme-support"),
        ("microsoft", "tenant", "contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
        ("github-enterprise", "base_url", "https://gh.acme.test:8443/", "gh.acme.test:8443"),
        ("salesforce", "login_host", "test.salesforce.com", "test.salesforce.com"),
    ],
)
def test_values_that_fit_their_place(name, key, value, stored):
    assert parse_assignments([f"{key}={value}"], bundled(name)) == {key: stored}


def test_placeholder_roles():
    from authsome.providers.templates import placeholder_roles

    assert placeholder_roles(bundled("mailchimp")) == {"dc": "label"}
    assert placeholder_roles(bundled("microsoft")) == {"tenant": "segment"}
    assert placeholder_roles(bundled("github-enterprise")) == {"base_url": "host"}
