"""Flags and hints a newcomer trips on: -c everywhere, provider names in another case or
misspelt, an empty --scopes, a --flow the provider lacks, and `authsome allow` checking
the project file's providers itself."""

from __future__ import annotations

import pytest


def one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_short_connection_flag_for_login_and_logout(home, run):
    r = run("authsome", "login", "openai", "-c", "work", "--api-key-stdin", input="sk-work-1")
    assert r.returncode == 0, r.stderr
    assert run("authsome", "get", "openai", "-c", "work", "--field", "status").stdout == (
        "connected\n"
    )
    r = run("authsome", "logout", "openai", "-c", "work", "--no-revoke")
    assert r.returncode == 0, r.stderr
    assert run("authsome", "get", "openai", "-c", "work").returncode == 3


def test_provider_names_in_another_case_and_misspelt(home, run):
    r = run("authsome", "login", "OpenAI", "--api-key-stdin", input="sk-case-1")
    assert r.returncode == 0, r.stderr
    assert run("authsome", "get", "openai", "--field", "status").stdout == "connected\n"
    assert run("authsome", "get", "OPENAI", "--field", "status").stdout == "connected\n"
    assert run("authsome", "inspect", "HubSpot").returncode == 0
    r = run("authsome", "login", "hubspt", "--client-id", "x", "--no-browser")
    assert r.returncode == 4
    assert "did you mean 'hubspot'?" in one_line(r)


def test_empty_scopes_are_refused(home, run):
    r = run("authsome", "login", "hubspot", "--scopes", "", "--client-id", "x", "--no-browser")
    assert r.returncode == 2
    assert "--scopes needs at least one scope" in one_line(r)
    r = run("authsome", "login", "hubspot", "--scopes", " , ", "--client-id", "x")
    assert r.returncode == 2


@pytest.mark.parametrize("seconds", ["nan", "inf", "0", "-1", "1e300"])
@pytest.mark.parametrize("mcp", [False, True], ids=["provider", "mcp"])
def test_a_timeout_that_is_not_a_number_of_seconds_is_refused(seconds, mcp, home, run):
    """argparse takes `nan` and `inf` as floats: nan waited no time at all ("timed out
    after nan s", exit 7) and inf was an internal error (OverflowError) after the
    browser step had begun. Refused before anything starts, with nothing stored."""
    target = ["--mcp", "http://127.0.0.1:9/mcp"] if mcp else ["hubspot", "--client-id", "x"]
    r = run("authsome", "login", *target, "--timeout", seconds, "--no-browser")
    assert r.returncode == 2, r.stderr
    assert one_line(r) == "authsome: --timeout must be a positive number of seconds (at most a day)"
    assert r.stdout == ""
    assert run("authsome-helper", "list").stdout == '{"protocol": 1, "connections": []}\n'


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--resolve", "api.test:443:999.1.1.1"], "'999.1.1.1' is not an IP address"),
        (["--resolve", "api.test:443:localhost"], "'localhost' is not an IP address"),
        (["--resolve", "api.test:70000:127.0.0.1"], "expected HOST:PORT:ADDR"),
        (["--resolve", ":443:127.0.0.1"], "expected HOST:PORT:ADDR"),
        (["--allow-host-port", "0"], "expected a port number"),
        (["--allow-host-port", "abc"], "expected a port number"),
    ],
)
def test_run_refuses_a_bad_resolve_or_port_before_starting(flags, words, home, run, tmp_path):
    """--resolve took any text as the address: a typo such as 999.1.1.1, or a host
    name (curl's option takes addresses only), was found only when the child's
    connection failed. Nothing runs."""
    marker = tmp_path / "ran"
    r = run("authsome", "run", *flags, "--", "touch", str(marker))
    assert r.returncode == 2, r.stderr
    assert words in one_line(r)
    assert not marker.exists()


def test_flow_error_lists_only_this_providers_flows(home, run):
    r = run("authsome", "login", "hubspot", "--flow", "device_code", "--client-id", "x")
    assert r.returncode == 2
    line = one_line(r)
    assert "no device_code flow (its flows: pkce)" in line and "dcr_pkce" not in line
    r = run("authsome", "login", "openai", "--flow", "pkce", "--api-key-stdin", input="sk-1")
    assert r.returncode == 2 and "its only flow: api_key" in one_line(r)


def test_allow_warns_about_unknown_providers_and_refuses_bad_toml(home, run, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    toml = project / ".authsome.toml"
    toml.write_text('[env]\nHS_TOKEN = "hubspt"\nOPENAI_API_KEY = "openai"\n')
    r = run("authsome", "allow", str(project))
    assert r.returncode == 0, r.stderr
    assert "HS_TOKEN: unknown provider 'hubspt' (did you mean 'hubspot'?" in r.stderr
    assert "OPENAI_API_KEY" not in r.stderr
    toml.write_text('[env]\nHS_TOKEN = "hubspot\n')
    r = run("authsome", "allow", str(project))
    assert r.returncode == 2 and "not valid TOML" in one_line(r)
