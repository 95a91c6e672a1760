"""Templated hosts end to end: `authsome login NAME --set ...` against the test
authorization server at a templated URL, then the helper, `authsome get`, refresh and
the proxy all use the filled hosts. Salesforce-style `instance_url` from the token
response fills a `from_token` template."""

from __future__ import annotations

import json

import pytest

from catalog.conftest import redirect, templated_provider, write_definition
from support.pki import make_pki

pytestmark = pytest.mark.usefixtures("browser")


def login(run, server, port, *args: str, name: str = "tenantco"):
    server.register_client("cli", redirect_uris=[redirect(port)], scope="read")
    return run("authsome", "login", name, "--client-id", "cli", *args)


def host_of(server) -> str:
    return server.base_url.removeprefix("http://")


def get_json(run, name: str = "tenantco") -> dict:
    res = run("authsome", "get", name, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_login_fills_templates_and_everyone_uses_them(home, server, port, run):
    write_definition(home, templated_provider())
    res = login(run, server, port, "--set", f"host={host_of(server)}", "--set", "tenant=acme")
    assert res.returncode == 0, res.stderr
    # the filled token endpoint is the one that was called
    assert server.counts["token:authorization_code"] == 1
    got = get_json(run)
    assert got["params"] == {"host": host_of(server), "tenant": "acme"}
    assert got["access_token"] == "***"
    helper = run("authsome-helper", "get", "tenantco")
    assert helper.returncode == 0, helper.stderr
    token = json.loads(helper.stdout)["access_token"]
    assert server.is_active(token)
    # a refresh goes to the filled token endpoint and keeps the values
    refreshed = run("authsome-helper", "refresh", "tenantco")
    assert refreshed.returncode == 0, refreshed.stderr
    assert server.counts["token:refresh_token"] == 1
    assert json.loads(refreshed.stdout)["access_token"] != token
    assert get_json(run)["params"] == {"host": host_of(server), "tenant": "acme"}
    # and `authsome get --field params` prints them for scripts
    field = run("authsome", "get", "tenantco", "--field", "params")
    assert field.stdout.split() == [f"host={host_of(server)}", "tenant=acme"]


def selfhosted(name: str) -> dict:
    """A provider on one {base_url} (the test server's host:port), as --base-url fills it."""
    return templated_provider(
        name,
        api_url=["{base_url}/api"],
        oauth={
            "authorization_url": "http://{base_url}/authorize",
            "token_url": "http://{base_url}/token",
            "scopes": ["read"],
            "pkce": True,
        },
        templates={"base_url": {"description": "Your instance", "example": "git.acme.test"}},
        env={"access_token": name.upper() + "_TOKEN"},
    )


def test_base_url_is_set_base_url(home, server, port, run):
    write_definition(home, selfhosted("selfhosted"))
    res = login(run, server, port, "--base-url", server.base_url + "/", name="selfhosted")
    assert res.returncode == 0, res.stderr
    assert get_json(run, "selfhosted")["params"] == {"base_url": host_of(server)}


def test_missing_value_is_one_line_naming_the_flag(home, server, port, run):
    write_definition(home, templated_provider())
    res = login(run, server, port, "--set", "tenant=acme")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "--set host=" in res.stderr and "Traceback" not in res.stderr
    assert server.counts["token"] == 0


@pytest.mark.parametrize(
    "value, why",
    [
        ("evil.example.com", "https://"),  # the http:// endpoint is only allowed on loopback
        ("127.0.0.1:1/../x", "host name"),
        ("a b", "host name"),
    ],
)
def test_a_value_cannot_move_credentials_off_loopback_http(home, server, port, run, value, why):
    write_definition(home, templated_provider())
    res = login(run, server, port, "--set", f"host={value}", "--set", "tenant=acme")
    assert res.returncode == 2 and why in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_unknown_template_name(home, run):
    write_definition(home, templated_provider())
    res = run("authsome", "login", "tenantco", "--param", "color=blue")
    assert res.returncode == 2 and "no placeholder 'color'" in res.stderr


# -- from_token: Salesforce's instance_url ---------------------------------------------


def instance_provider() -> dict:
    return templated_provider(
        "sfish",
        api_url=["{instance}"],
        templates={
            "host": {"description": "login host", "example": "login.example.test"},
            "instance": {
                "description": "API host, from the token response",
                "example": "acme.my.example.test",
                "from_token": "instance_url",
            },
        },
        env={"access_token": "SFISH_TOKEN"},
    )


def test_instance_url_from_the_token_response(home, server, port, run):
    write_definition(home, instance_provider())
    server.instance_url = "https://acme.my.example.test/"
    res = login(run, server, port, "--set", f"host={host_of(server)}", name="sfish")
    assert res.returncode == 0, res.stderr
    params = get_json(run, "sfish")["params"]
    assert params == {"host": host_of(server), "instance": "acme.my.example.test"}
    # a refresh whose response does not repeat it keeps the connection's value
    server.instance_url = None
    assert run("authsome-helper", "refresh", "sfish").returncode == 0
    assert get_json(run, "sfish")["params"]["instance"] == "acme.my.example.test"
    # the filled api_url is what the Bazel-style headers helper and the proxy match on
    from authsome.credentials import CredentialService

    assert CredentialService().get("sfish").provider.api_url == ["acme.my.example.test"]


def test_missing_instance_url_fails_naming_set(home, server, port, run):
    write_definition(home, instance_provider())
    res = login(run, server, port, "--set", f"host={host_of(server)}", name="sfish")
    assert res.returncode == 2, res.stderr
    assert "instance_url" in res.stderr and "--set instance=" in res.stderr
    assert run("authsome", "get", "sfish").returncode == 3  # nothing stored


def test_salesforce_definition_uses_from_token():
    from authsome.providers import load_registry

    sf = load_registry("/nonexistent").get("salesforce")
    assert sf.templates["instance"].from_token == "instance_url"
    assert sf.api_url == ["{instance}"]
    assert sf.templates["login_host"].default == "login.salesforce.com"


# -- the proxy injects for the filled host ---------------------------------------------


def test_proxy_injects_for_the_filled_host(home, server, port, run, tmp_path, monkeypatch):
    upstream_mod = pytest.importorskip("proxy.upstream")
    pki = make_pki(tmp_path / "pki", ["acme.tenant.test", "globex.tenant.test"])
    monkeypatch.setenv("AUTHSOME_CA_BUNDLE", str(pki["ca"]))
    write_definition(home, templated_provider())
    res = login(run, server, port, "--set", f"host={host_of(server)}", "--set", "tenant=acme")
    assert res.returncode == 0, res.stderr
    token = json.loads(run("authsome-helper", "get", "tenantco").stdout)["access_token"]
    with upstream_mod.Upstream(pki) as up:
        p = up.port
        script = (
            f'curl -sS https://acme.tenant.test:{p}/echo -H "Authorization: Bearer $TENANTCO_TOKEN"'
            f" && curl -sS --cacert {pki['ca']} https://globex.tenant.test:{p}/echo"
        )
        res = run(
            "authsome",
            "run",
            "--resolve",
            f"acme.tenant.test:{p}:127.0.0.1",
            "--resolve",
            f"globex.tenant.test:{p}:127.0.0.1",
            "--",
            "sh",
            "-c",
            script,
        )
        assert res.returncode == 0, res.stderr
        auth = [[v for k, v in r["headers"] if k.lower() == "authorization"] for r in up.requests]
    assert auth == [[f"Bearer {token}"], []]  # the filled host only; the other tenant untouched
    assert token not in res.stderr


# -- API-key providers with templates (Mailchimp's data center) --------------------------


def test_api_key_provider_keeps_its_template_values(home, run):
    res = run("authsome", "login", "mailchimp", "--api-key-stdin", input="k3y-us21")
    assert res.returncode == 2 and "--set dc=" in res.stderr
    res = run(
        "authsome", "login", "mailchimp", "--api-key-stdin", "--set", "dc=us21", input="k3y-us21"
    )
    assert res.returncode == 0, res.stderr
    assert get_json(run, "mailchimp")["params"] == {"dc": "us21"}
    from authsome.credentials import CredentialService

    assert CredentialService().get("mailchimp").provider.api_url == ["us21.api.mailchimp.com"]


def test_a_hostile_template_value_is_refused_and_nothing_stored(home, run):
    """`--set dc=evil.test:8443/x` used to make Mailchimp's API host evil.test (#19 item 6)."""
    res = run(
        "authsome",
        "login",
        "mailchimp",
        "--set",
        "dc=evil.test:8443/x",
        "--api-key-stdin",
        input="key-us21",
    )
    assert res.returncode == 2 and "one DNS label" in res.stderr
    assert res.stderr.count("\n") == 1
    assert run("authsome", "get", "mailchimp").returncode == 3
    res = run("authsome", "login", "zendesk", "--set", "subdomain=evil.test/x", "--no-browser")
    assert res.returncode == 2 and "one DNS label" in res.stderr


@pytest.mark.parametrize(
    "url", ["http://gh.acme.test", "ftp://gh.acme.test", "git+https://gh.acme.test"]
)
def test_base_url_must_be_https(home, run, url):
    res = run("authsome", "login", "github-enterprise", "--base-url", url, "--no-browser")
    assert res.returncode == 2 and "--base-url must be an https:// URL" in res.stderr


def test_base_url_host_is_shown_and_recorded(home, server, port, run):
    write_definition(home, selfhosted("selfhosted2"))
    res = login(run, server, port, "--base-url", server.base_url, name="selfhosted2")
    assert res.returncode == 0, res.stderr
    assert f"instance: {host_of(server)}" in res.stderr
    assert get_json(run, "selfhosted2")["params"] == {"base_url": host_of(server)}


def test_basic_api_keys_are_stored_as_the_provider_issued_them(home, run):
    """Mailchimp (fixed user name) and Twilio (SID asked for): the user gives the key as
    the provider shows it; the header carries base64(user:key) (#19 item 8)."""
    import base64

    def basic(user: str, key: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()

    res = run(
        "authsome",
        "login",
        "mailchimp",
        "--set",
        "dc=us21",
        "--api-key-stdin",
        input="0123456789abcdef-us21\n",
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(run("authsome-helper", "get", "mailchimp").stdout)
    assert got["headers"] == {"Authorization": basic("anystring", "0123456789abcdef-us21")}
    for stdin in ("ACabc123:s3cret\n", "ACabc123\ns3cret\n"):
        res = run("authsome", "login", "twilio", "--api-key-stdin", input=stdin)
        assert res.returncode == 0, res.stderr
        got = json.loads(run("authsome-helper", "get", "twilio").stdout)
        assert got["headers"] == {"Authorization": basic("ACabc123", "s3cret")}
    res = run("authsome", "login", "twilio", "--api-key-stdin", input="only-a-secret")
    assert res.returncode == 2 and "Account SID" in res.stderr and "only-a-secret" not in res.stderr
