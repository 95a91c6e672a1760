"""`verified`, `api_key.query_param`, `oauth.revocation_client_auth`, `oauth.request_body`,
`oauth.revocation_body` and `oauth.refresh_url` in the schema: values kept, shown by inspect,
and a malformed one reported with its file and field."""

from __future__ import annotations

import json

import pytest

from authsome.errors import ProviderError
from authsome.providers.loader import parse_definition
from support.providers import oauth_definition

CHECKED = {"date": "2026-12-04", "source": "https://auth.example.test/docs/oauth"}


def _key_definition(**api_key) -> dict:
    return {
        "name": "keyed",
        "display_name": "Keyed",
        "auth_type": "api_key",
        "flow": "api_key",
        "api_key": api_key,
    }


def test_verified_is_structured_and_inspect_prints_it(home, run):
    provider = parse_definition(oauth_definition("checked", verified={**CHECKED, "note": "n"}))
    assert (provider.verified.date, provider.verified.source, provider.verified.note) == (
        "2026-12-04",
        CHECKED["source"],
        "n",
    )
    assert "verified" not in provider.extra  # a field of the schema, not a kept unknown key
    shown = json.loads(run("authsome", "inspect", "serpapi").stdout)
    assert set(shown["verified"]) == {"date", "source", "note"}
    assert shown["api_key"]["query_param"] == "api_key"


@pytest.mark.parametrize(
    ("verified", "field"),
    [
        ({"date": "2026-02-30", "source": CHECKED["source"]}, "verified.date"),
        ({"date": "04/12/2026", "source": CHECKED["source"]}, "verified.date"),
        ({"date": "2026-12-04", "source": "http://docs.example.test/"}, "verified.source"),
        ({"date": "2026-12-04", "source": "docs page"}, "verified.source"),
        ({"date": "2026-12-04"}, "verified.source"),
    ],
)
def test_malformed_verified_is_refused_naming_the_field(verified, field):
    with pytest.raises(ProviderError) as exc:
        parse_definition(oauth_definition("checked", verified=verified), path="/p/checked.json")
    assert exc.value.field == field and "/p/checked.json" in str(exc.value)


def test_query_param_key_needs_no_header():
    provider = parse_definition(_key_definition(header_name=None, query_param="api_key"))
    assert provider.api_key.query_param == "api_key" and provider.api_key.header_name is None
    assert parse_definition(_key_definition()).api_key.query_param is None


@pytest.mark.parametrize(
    ("api_key", "field"),
    [
        ({"header_name": None, "query_param": "api key"}, "api_key.query_param"),
        ({"header_name": None, "query_param": ""}, "api_key.query_param"),
        ({"header_name": None, "query_param": 3}, "api_key.query_param"),
        ({"header_name": "X-Key", "query_param": "key"}, "api_key.header_name"),
        ({"query_param": "key"}, "api_key.header_name"),  # absent means Authorization
        ({"header_name": None}, "api_key.header_name"),  # no header and no query: nowhere
    ],
)
def test_bad_query_param_is_refused_naming_the_field(api_key, field):
    with pytest.raises(ProviderError) as exc:
        parse_definition(_key_definition(**api_key))
    assert exc.value.field == field


# (field, value when absent, a good value, a bad value): optional oauth fields that keep
# what the file says and refuse, naming the field, what they cannot use.
OPTIONAL_OAUTH = [
    ("revocation_client_auth", None, "basic", "header"),  # None: as client_auth
    ("request_body", "form", "json", "xml"),
    ("revocation_body", None, "json", "xml"),  # None: as request_body
    ("refresh_url", None, "https://a.test/refresh", "http://a.test/refresh"),  # None: token_url
]


@pytest.mark.parametrize(("field", "absent", "good", "bad"), OPTIONAL_OAUTH)
def test_optional_oauth_field_defaults_and_is_checked(field, absent, good, bad):
    base = oauth_definition("opt")
    assert getattr(parse_definition(base).oauth, field) == absent
    given = oauth_definition("opt", oauth={**base["oauth"], field: good})
    assert getattr(parse_definition(given).oauth, field) == good
    with pytest.raises(ProviderError) as exc:
        parse_definition(oauth_definition("opt", oauth={**base["oauth"], field: bad}))
    assert exc.value.field == f"oauth.{field}"


def test_inspect_prints_figma_s_refresh_url(home, run):
    shown = json.loads(run("authsome", "inspect", "figma").stdout)["oauth"]
    assert shown["refresh_url"] == "https://api.figma.com/v1/oauth/refresh"
    assert shown["token_url"] == "https://api.figma.com/v1/oauth/token"
