"""kubectl's ExecCredential and Bazel's header helper formats."""

from __future__ import annotations

import json

import pytest

from authsome.protocol import bazel, k8s


def test_requested_version():
    assert k8s.requested_version(None) == k8s.API_V1
    assert k8s.requested_version("") == k8s.API_V1
    beta = json.dumps({"apiVersion": k8s.API_V1BETA1, "kind": "ExecCredential", "spec": {}})
    assert k8s.requested_version(beta) == k8s.API_V1BETA1
    v1 = json.dumps({"apiVersion": k8s.API_V1, "spec": {"interactive": False}})
    assert k8s.requested_version(v1) == k8s.API_V1
    with pytest.raises(k8s.ExecInfoError):
        k8s.requested_version('{"apiVersion": "client.authentication.k8s.io/v1alpha1"}')
    with pytest.raises(k8s.ExecInfoError):
        k8s.requested_version("{nope")


def test_exec_credential_exact():
    out = k8s.exec_credential(k8s.API_V1, "tok", "2030-01-01T00:00:00Z")
    assert json.loads(out) == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": "tok", "expirationTimestamp": "2030-01-01T00:00:00Z"},
    }
    assert out.endswith(b"}\n")
    assert (
        "expirationTimestamp"
        not in json.loads(k8s.exec_credential(k8s.API_V1, "k", None))["status"]
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://api.example.com/v2/x?q=1#f", ("https", "api.example.com", "/v2/x")),
        ("HTTPS://API.Example.com.:443", ("https", "api.example.com", "/")),
        ("https://api.example.com:8443/", ("https", "api.example.com:8443", "/")),
        ("http://127.0.0.1:8080/a", ("http", "127.0.0.1:8080", "/a")),
    ],
)
def test_parse_uri(uri, expected):
    assert bazel.parse_uri({"uri": uri}) == expected


@pytest.mark.parametrize(
    "request_",
    [
        {},
        {"uri": 3},
        {"uri": "api.example.com/x"},
        {"uri": "https:///x"},
        {"uri": "HTTPS://User:pw@API.Example.com:443"},  # userinfo: refused (#14 item 6)
        {"uri": "https://evil.test\\@api.example.com/x"},  # a WHATWG parser: evil.test
    ],
)
def test_parse_uri_refuses(request_):
    with pytest.raises(bazel.HeadersRequestError):
        bazel.parse_uri(request_)


def test_may_send_token_only_over_tls_or_to_loopback():
    assert bazel.may_send_token("https", "api.example.com")
    assert not bazel.may_send_token("http", "api.example.com")
    assert bazel.may_send_token("http", "127.0.0.1:8080")
    assert bazel.may_send_token("http", "[::1]")


def test_format_response():
    out = bazel.format_response({"Authorization": "Bearer t"}, "2030-01-01T00:00:00Z")
    assert json.loads(out) == {
        "headers": {"Authorization": ["Bearer t"]},
        "expires": "2030-01-01T00:00:00Z",
    }
    assert json.loads(bazel.format_response({"X-Api-Key": "k"}, None)) == {
        "headers": {"X-Api-Key": ["k"]}
    }
    assert bazel.EMPTY == b"{}\n"
