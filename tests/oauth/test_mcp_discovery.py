"""The MCP discovery rules (RFC 9728, RFC 8414 / OIDC, registration choice): pure."""

from __future__ import annotations

import re

import pytest

from authsome.errors import UsageError
from authsome.oauth import mcp_discovery as d
from authsome.protocol.challenge import bearer_challenge, insufficient_scope, step_up_message
from authsome.providers.loader import parse_definition

URL = "https://mcp.example.test/mcp"
AS = "https://auth.example.test"


def as_doc(**over):
    doc = {
        "issuer": AS,
        "authorization_endpoint": AS + "/authorize",
        "token_endpoint": AS + "/token",
        "registration_endpoint": AS + "/register",
        "code_challenge_methods_supported": ["S256"],
    }
    doc.update(over)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.mark.parametrize(
    "header, expected",
    [
        (
            'Bearer error="invalid_token", resource_metadata="https://h/.well-known/x"',
            {"error": "invalid_token", "resource_metadata": "https://h/.well-known/x"},
        ),
        (
            'Bearer error="insufficient_scope", scope="files:read files:write"',
            {"error": "insufficient_scope", "scope": "files:read files:write"},
        ),
        # another scheme first, a quoted comma, an escaped quote, a bare token value
        (
            'Basic realm="a, b", Bearer realm="q\\"x", scope=read',
            {"realm": 'q"x', "scope": "read"},
        ),
        ("bearer", {}),
        ('Negotiate abc123==, DPoP algs="ES256"', None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_challenge(header, expected):
    assert bearer_challenge(header) == expected


def test_resource_metadata_urls_path_inserted_then_root():
    assert d.resource_metadata_urls("https://h.test:8443/v1/mcp/") == [
        "https://h.test:8443/.well-known/oauth-protected-resource/v1/mcp",
        "https://h.test:8443/.well-known/oauth-protected-resource",
    ]
    assert d.resource_metadata_urls("https://h.test") == [
        "https://h.test/.well-known/oauth-protected-resource"
    ]


def test_server_metadata_urls():
    assert d.server_metadata_urls("https://a.test") == [
        "https://a.test/.well-known/oauth-authorization-server",
        "https://a.test/.well-known/openid-configuration",
    ]
    assert d.server_metadata_urls("https://a.test/tenant/1") == [
        "https://a.test/.well-known/oauth-authorization-server/tenant/1",
        "https://a.test/.well-known/openid-configuration/tenant/1",
        "https://a.test/tenant/1/.well-known/openid-configuration",
    ]


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://MCP.example.test:443/mcp/", URL, True),
        ("https://mcp.example.test:8443/mcp", URL, False),
        ("https://mcp.example.test/mcp2", URL, False),
        ("http://mcp.example.test/mcp", URL, False),
    ],
)
def test_canonical_comparison(a, b, same):
    assert (d.canonical(a) == d.canonical(b)) is same


def test_resource_must_be_the_url():
    doc = {"resource": URL + "/", "authorization_servers": [AS], "scopes_supported": ["a"]}
    meta = d.parse_resource_metadata(doc, URL, "x")
    assert meta.authorization_servers == [AS] and meta.scopes_supported == ["a"]
    with pytest.raises(d.DiscoveryError, match=re.escape("is for 'https://evil.test/mcp', not")):
        d.parse_resource_metadata({**doc, "resource": "https://evil.test/mcp"}, URL, "x")
    with pytest.raises(d.DiscoveryError, match="names no authorization_servers"):
        d.parse_resource_metadata({"resource": URL}, URL, "x")


def test_issuer_must_match_exactly():
    assert d.parse_server_metadata(as_doc(), AS, "x").token_endpoint == AS + "/token"
    with pytest.raises(d.DiscoveryError, match=re.escape("has issuer 'https://other.test'")):
        d.parse_server_metadata(as_doc(issuer="https://other.test"), AS, "x")
    with pytest.raises(d.DiscoveryError, match="issuer"):
        d.parse_server_metadata(as_doc(issuer=AS + "/"), AS, "x")


@pytest.mark.parametrize("methods", [None, [], ["plain"]])
def test_no_s256_refused(methods):
    with pytest.raises(d.DiscoveryError, match="S256"):
        d.parse_server_metadata(as_doc(code_challenge_methods_supported=methods), AS, "x")


def test_registration_choice_order():
    dcr = d.parse_server_metadata(as_doc(), AS, "x")
    both = d.parse_server_metadata(as_doc(client_id_metadata_document_supported=True), AS, "x")
    none = d.parse_server_metadata(as_doc(registration_endpoint=None), AS, "x")
    doc_url = "https://me.test/client.json"
    assert d.choose_registration(both, client_id="c", metadata_document=doc_url) == d.PREREGISTERED
    assert d.choose_registration(both, client_id=None, metadata_document=doc_url) == (
        d.METADATA_DOCUMENT
    )
    assert d.choose_registration(dcr, client_id=None, metadata_document=doc_url) == d.DYNAMIC
    assert d.choose_registration(both, client_id=None, metadata_document=None) == d.DYNAMIC
    with pytest.raises(d.DiscoveryError, match="--client-id"):
        d.choose_registration(none, client_id=None, metadata_document=None)


def test_metadata_document_url_must_be_https_with_a_path():
    assert d.check_metadata_document_url("https://me.test/c.json")
    for bad in ("http://me.test/c.json", "https://me.test/", "me.test/c"):
        with pytest.raises(UsageError):
            d.check_metadata_document_url(bad)


def test_scopes_challenge_first_then_supported_plus_previous_and_added():
    meta = d.ResourceMetadata(URL, [AS], scopes_supported=["a", "b"])
    assert d.scopes_to_request([], meta, [], []) == ["a", "b"]
    assert d.scopes_to_request(["x"], meta, ["a"], ["y", "x"]) == ["x", "a", "y"]


def test_client_auth_for_a_secret():
    def meta(methods):
        return d.parse_server_metadata(
            as_doc(token_endpoint_auth_methods_supported=methods), AS, ""
        )

    assert d.client_auth_for(meta(["client_secret_post", "client_secret_basic"]), True) == "body"
    assert d.client_auth_for(meta(["client_secret_basic"]), True) == "basic"
    assert d.client_auth_for(meta(None), True) == "basic"  # RFC 8414 default
    assert d.client_auth_for(meta(None), False) == "body"


def test_server_url_checks():
    assert d.check_server_url(" https://h.test/mcp ") == "https://h.test/mcp"
    for bad in ("h.test/mcp", "ftp://h.test/", "https://u:p@h.test/mcp", "https://h.test/#x"):
        with pytest.raises(UsageError):
            d.check_server_url(bad)


def test_definition_loads_and_covers_the_server():
    found = d.Discovery(
        server_url="https://mcp.example.test:8443/v1/mcp",
        resource_metadata_url="https://mcp.example.test:8443/.well-known/oauth-protected-resource/v1/mcp",
        resource=d.ResourceMetadata(
            "https://mcp.example.test:8443/v1/mcp", [AS], resource_documentation="http://x.test"
        ),
        server=d.parse_server_metadata(as_doc(), AS, "x"),
        server_metadata_url=AS + "/.well-known/oauth-authorization-server",
    )
    name = d.default_name(found.server_url)
    data = d.provider_definition(
        name, found, scopes=["s"], registration=d.DYNAMIC, client_auth="body"
    )
    provider = parse_definition(data)
    assert provider.name == "mcp.example.test"
    assert provider.api_url == ["mcp.example.test:8443/v1/mcp"]
    assert provider.flow == "dcr_pkce"
    assert provider.oauth.resource == "https://mcp.example.test:8443/v1/mcp"
    assert provider.mcp.url == found.server_url and provider.mcp.issuer == AS
    assert provider.env == {"access_token": "MCP_EXAMPLE_TEST_ACCESS_TOKEN"}
    assert provider.docs_url is None  # only https documentation links are kept
    assert not provider.extra


def test_insufficient_scope_and_the_step_up_line():
    sdk = 'Bearer error="insufficient_scope", error_description="Required scope: b"'
    assert insufficient_scope(sdk) == []
    assert insufficient_scope(sdk + ', scope="a b"') == ["a", "b"]
    assert insufficient_scope('Bearer error="invalid_token"') is None
    assert insufficient_scope(None) is None
    line = step_up_message("srv", "work", ["a", "b"])
    assert (
        "needs scope a b" in line and "`authsome login srv --connection work --scopes a,b`" in line
    )
    assert "\n" not in line and "without naming" in step_up_message("srv", "default", [])


def test_legacy_server_without_resource_metadata_uses_its_origin():
    meta = d.legacy_resource("https://mcp.example.test/v1/mcp")
    assert meta.authorization_servers == ["https://mcp.example.test"]
    origin = "https://mcp.example.test"
    doc = as_doc(issuer=origin + "/")
    # only on the legacy path does the origin's trailing slash name the same issuer
    assert d.parse_server_metadata(doc, origin, "x", legacy=True).issuer == origin + "/"
    with pytest.raises(d.DiscoveryError, match="issuer"):
        d.parse_server_metadata(doc, origin, "x")
