"""docker-credential-helpers' wire format, byte for byte."""

from __future__ import annotations

import pytest

from authsome.protocol import docker


def test_server_url_is_scanned_and_trimmed_like_go():
    assert docker.parse_server_url(b"https://index.docker.io/v1/") == "https://index.docker.io/v1/"
    assert docker.parse_server_url(b"  ghcr.io\r\n") == "ghcr.io"
    assert docker.parse_server_url(b"ghcr\n.io\n") == "ghcr.io"  # lines are joined
    for empty in (b"", b"\n", b"  \t\r\n"):
        with pytest.raises(docker.DockerError) as err:
            docker.parse_server_url(empty)
        assert err.value.message == "no credentials server URL"


def test_store_parses_like_gos_decoder():
    data = b'{"ServerURL":"ghcr.io","Username":"me","Secret":"s3cret"}\n'
    assert docker.parse_store(data) == ("ghcr.io", "me", "s3cret")
    # case-insensitive field names, unknown fields ignored, trailing data ignored
    assert docker.parse_store(b'{"serverurl":"r","USERNAME":"u","x":1} trailing') == ("r", "u", "")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Username":"u","Secret":"s"}', "no credentials server URL"),
        (b'{"ServerURL":"r","Secret":"s"}', "no credentials username"),
        (b'{"ServerURL":"r","Username":""}', "no credentials username"),
        (b"", "EOF"),
        (
            b'{"ServerURL":1,"Username":"u"}',
            "json: cannot unmarshal number into Go struct field Credentials.ServerURL"
            " of type string",
        ),
    ],
)
def test_store_errors(data, message):
    with pytest.raises(docker.DockerError) as err:
        docker.parse_store(data)
    assert err.value.message == message


def test_store_refuses_invalid_json_without_echoing_it():
    with pytest.raises(docker.DockerError) as err:
        docker.parse_store(b'{"Secret": "s3cret"')
    assert "s3cret" not in err.value.message


def test_get_answer_exact_bytes():
    assert docker.format_credentials("ghcr.io", "x-access-token", "tok") == (
        b'{"ServerURL":"ghcr.io","Username":"x-access-token","Secret":"tok"}\n'
    )
    # Go's encoder escapes HTML characters and the JS line separators
    assert docker.format_credentials("r", "a<b>&", "\u2028é") == (
        b'{"ServerURL":"r","Username":"a\\u003cb\\u003e\\u0026","Secret":"\\u2028\xc3\xa9"}\n'
    )


def test_list_exact_bytes_sorted_like_a_go_map():
    assert docker.format_list({}) == b"{}\n"
    assert docker.format_list({"z.io": "u2", "https://index.docker.io/v1/": "u1"}) == (
        b'{"https://index.docker.io/v1/":"u1","z.io":"u2"}\n'
    )


def test_messages():
    assert docker.error_line(docker.NOT_FOUND) == b"credentials not found in native keychain\n"
    assert docker.usage() == "Usage: docker-credential-authsome <store|get|erase|list|version>"
    assert docker.unknown_action("frob") == "Unknown credential action `frob`"
    assert docker.format_version("0.1.0") == b"docker-credential-authsome (authsome) 0.1.0\n"


def test_registry_matching():
    providers = [
        {"name": "github", "docker_registries": [{"registry": "ghcr.io", "username": "gh"}]},
        {"name": "x", "docker_registries": [{"registry": "dup.io"}]},
        {"name": "y", "docker_registries": [{"registry": "https://dup.io/"}]},
    ]
    for url in ("ghcr.io", "https://ghcr.io", "https://GHCR.io/v2/", "ghcr.io:443"):
        assert docker.provider_for_registry(providers, url) == {
            "provider": "github",
            "username": "gh",
        }
    for url in ("http://ghcr.io", "HTTP://ghcr.io", "ftp://ghcr.io", "git+https://ghcr.io"):
        assert docker.provider_for_registry(providers, url) is None, url
    assert docker.provider_for_registry(providers, "docker.io") is None
    assert docker.provider_for_registry(providers, "dup.io") is None


def test_entry_names_are_per_exact_url():
    assert docker.entry_name("ghcr.io") == docker.entry_name("ghcr.io")
    assert docker.entry_name("ghcr.io") != docker.entry_name("https://ghcr.io")
