"""docker-credential-authsome as the docker client runs it: one argument, stdin as the
client writes it (get/erase: the bare server URL; store: JSON), exact bytes back."""

from __future__ import annotations

import json

import pytest

from support.cli import run_tool
from support.providers import write_oauth_provider

NOT_FOUND = b"credentials not found in native keychain\n"


def docker(*args, input=b""):
    return run_tool("docker-credential-authsome", *args, input=input)


def test_store_get_list_erase_exact_bytes(home):
    creds = {"ServerURL": "https://index.docker.io/v1/", "Username": "me", "Secret": "s3<&>"}
    r = docker("store", input=json.dumps(creds).encode() + b"\n")  # Go's encoder adds \n
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    r = docker("get", input=b"https://index.docker.io/v1/")  # the client sends no newline
    assert r.returncode == 0
    assert r.stdout == (
        b'{"ServerURL":"https://index.docker.io/v1/","Username":"me",'
        b'"Secret":"s3\\u003c\\u0026\\u003e"}\n'
    )
    docker("store", input=b'{"ServerURL":"a.example","Username":"you","Secret":"x"}')
    r = docker("list", input=b"unused")
    assert (r.returncode, r.stdout) == (
        0,
        b'{"a.example":"you","https://index.docker.io/v1/":"me"}\n',
    )
    # a second store for the same URL replaces the first
    docker("store", input=b'{"ServerURL":"a.example","Username":"other","Secret":"y"}')
    assert docker("get", input=b"a.example").stdout == (
        b'{"ServerURL":"a.example","Username":"other","Secret":"y"}\n'
    )
    r = docker("erase", input=b"https://index.docker.io/v1/")
    assert (r.returncode, r.stdout) == (0, b"")
    r = docker("get", input=b"https://index.docker.io/v1/")
    assert (r.returncode, r.stdout) == (1, NOT_FOUND)
    assert docker("list").stdout == b'{"a.example":"other"}\n'
    # secrets are encrypted at rest
    for rec in (home / "vault" / "docker").glob("*.rec"):
        assert b'"y"' not in rec.read_bytes() and b"other" not in rec.read_bytes()


def test_errors_exact_bytes(home):
    cases = [
        (("get",), b"", b"no credentials server URL\n"),
        (("get",), b"  \n", b"no credentials server URL\n"),
        (("erase",), b"", b"no credentials server URL\n"),
        (("get",), b"nothing.example", NOT_FOUND),
        (("erase",), b"nothing.example", NOT_FOUND),
        (("store",), b'{"Username":"u","Secret":"s"}', b"no credentials server URL\n"),
        (("store",), b'{"ServerURL":"r","Secret":"s"}', b"no credentials username\n"),
        (("frob",), b"", b"Unknown credential action `frob`\n"),
        ((), b"", b"Usage: docker-credential-authsome <store|get|erase|list|version>\n"),
        (("get", "x"), b"", b"Usage: docker-credential-authsome <store|get|erase|list|version>\n"),
    ]
    for args, stdin, expected in cases:
        r = docker(*args, input=stdin)
        assert (r.returncode, r.stdout) == (1, expected), (args, stdin)
    r = docker("list")
    assert (r.returncode, r.stdout) == (0, b"{}\n")
    r = docker("version")
    assert r.returncode == 0 and r.stdout.startswith(b"docker-credential-authsome (authsome) ")


def test_store_with_a_secret_never_echoes_it_on_bad_json(home):
    r = docker("store", input=b'{"ServerURL":"r","Username":"u","Secret":"hunter2"')
    assert r.returncode == 1 and b"hunter2" not in r.stdout + r.stderr


@pytest.fixture
def registry_provider(home, run):
    write_oauth_provider(
        home, "forge", docker_registries=[{"registry": "registry.test", "username": "bot"}]
    )


def test_mapped_registry_answers_with_the_providers_token(home, run, registry_provider):
    assert docker("get", input=b"registry.test").stdout == NOT_FOUND  # not connected yet
    assert docker("list").stdout == b"{}\n"
    run("authsome-helper", "store", "forge", input='{"access_token":"tok","expires_in":3600}')
    for url in (b"registry.test", b"https://registry.test/v2/"):
        r = docker("get", input=url)
        assert r.returncode == 0
        assert json.loads(r.stdout) == {
            "ServerURL": url.decode(),
            "Username": "bot",
            "Secret": "tok",
        }
    assert docker("list").stdout == b'{"registry.test":"bot"}\n'
    # docker echoing our token back through store is not kept as a login
    r = docker("store", input=b'{"ServerURL":"registry.test","Username":"bot","Secret":"tok"}')
    assert r.returncode == 0
    assert not list((home / "vault" / "docker").glob("*.rec"))
    # logout: nothing stored to erase; the connection stays, with a hint on stderr
    r = docker("erase", input=b"registry.test")
    assert r.returncode == 0 and b"authsome logout forge" in r.stderr
    # a cleartext URL, or any scheme but https, never gets the token (#19 item 13)
    for url in (b"http://registry.test", b"ftp://registry.test", b"ssh://registry.test/v2/"):
        assert docker("get", input=url).stdout == NOT_FOUND, url
