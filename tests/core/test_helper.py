"""`authsome-helper` JSON protocol and the core `authsome` commands, as real processes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest


def _vault_digest(home):
    out = {}
    for root, _, files in os.walk(home / "vault"):
        for f in files:
            if f.endswith(".lock"):
                continue
            p = os.path.join(root, f)
            out[p] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return out


def test_api_key_login_then_helper_get(home, run):
    r = run("authsome", "login", "openai", "--api-key-stdin", input="sk-proj-abc123")
    assert r.returncode == 0, r.stderr
    r = run("authsome-helper", "get", "openai")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert r.stdout.count("\n") == 1
    assert answer["protocol"] == 1 and answer["api_key"] == "sk-proj-abc123"
    assert answer["headers"] == {"Authorization": "Bearer sk-proj-abc123"}
    assert answer["env"] == {"OPENAI_API_KEY": "sk-proj-abc123"}
    assert run("authsome", "get", "openai", "--field", "status").stdout == "connected\n"


def test_anthropic_key_goes_in_x_api_key_without_prefix(home, run):
    assert (
        run("authsome", "login", "anthropic", "--api-key-stdin", input="sk-ant-xyz").returncode == 0
    )
    answer = json.loads(run("authsome-helper", "get", "anthropic").stdout)
    assert answer["headers"] == {"x-api-key": "sk-ant-xyz"}


def test_api_key_is_checked_against_the_pattern(home, run):
    r = run("authsome", "login", "openai", "--api-key-stdin", input="not-a-key-value")
    assert r.returncode == 2 and "not-a-key-value" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_store_then_get_oauth_token_and_refresh_token_is_never_printed(home, run):
    r = run(
        "authsome-helper",
        "store",
        "hubspot",
        input='{"access_token":"a-tok","refresh_token":"r-secret-tok","expires_in":3600}',
    )
    assert r.returncode == 0 and json.loads(r.stdout) == {"protocol": 1, "ok": True}
    answer = json.loads(run("authsome-helper", "get", "hubspot").stdout)
    assert answer["access_token"] == "a-tok" and 3590 <= answer["expires_in"] <= 3600
    assert answer["headers"] == {"Authorization": "Bearer a-tok"}
    assert answer["env"] == {"HUBSPOT_ACCESS_TOKEN": "a-tok"}
    outputs = [
        run("authsome-helper", "get", "hubspot"),
        run("authsome-helper", "list"),
        run("authsome", "get", "hubspot"),
        run("authsome", "get", "hubspot", "--show-secret", "--json"),
        run("authsome", "get", "hubspot", "--field", "refresh_token"),
        run("authsome", "export", "hubspot", "--format", "json"),
        run("authsome", "list", "--json"),
        run("authsome", "log"),
        run("authsome", "doctor"),
    ]
    for r in outputs:
        assert "r-secret-tok" not in r.stdout + r.stderr
    assert "r-secret-tok" not in (home / "audit.log").read_text()


def test_store_with_expires_at_and_scopes_string(home, run):
    r = run(
        "authsome-helper",
        "store",
        "hubspot",
        "--connection",
        "work",
        input='{"access_token":"t","expires_at":"2099-01-01T00:00:00Z","scopes":"a b"}',
    )
    assert r.returncode == 0, r.stderr
    answer = json.loads(run("authsome-helper", "get", "hubspot", "--connection", "work").stdout)
    assert answer["expires_at"] == "2099-01-01T00:00:00Z" and answer["scopes"] == ["a", "b"]
    assert answer["connection"] == "work"


def test_arguments_win_over_stdin(home, run):
    run("authsome-helper", "store", "hubspot", "--connection", "x", input='{"access_token":"tx"}')
    r = run("authsome-helper", "get", "hubspot", input='{"provider":"openai","connection":"x"}')
    assert json.loads(r.stdout)["access_token"] == "tx"


def test_expired_token_without_refresh_is_reauth_required(home, run):
    run("authsome-helper", "store", "hubspot", input='{"access_token":"old","expires_in":-10}')
    r = run("authsome-helper", "get", "hubspot")
    assert r.returncode == 5
    assert json.loads(r.stdout)["error"]["code"] == "reauth_required"
    assert run("authsome", "get", "hubspot", "--field", "status").stdout == "expired\n"


def test_min_ttl_forces_a_refresh_attempt(home, run):
    run("authsome-helper", "store", "hubspot", input='{"access_token":"short","expires_in":100}')
    assert run("authsome-helper", "get", "hubspot", input='{"min_ttl": 30}').returncode == 0
    # Shorter-lived than asked and not refreshable: still handed out, with a warning.
    r = run("authsome-helper", "get", "hubspot", input='{"min_ttl": 300}')
    assert r.returncode == 0 and "no refresh token" in r.stderr


@pytest.mark.parametrize(
    "args, stdin, code, exit_code",
    [
        (["get", "hubspot"], "{not json", "bad_request", 2),
        (["get", "hubspot"], "[1, 2]", "bad_request", 2),
        (["get", "hubspot"], '{"min_ttl": "soon"}', "bad_request", 2),
        (["get", "hubspot"], '{"connection": 5}', "bad_request", 2),
        (["store", "hubspot"], '{"access_token": 1}', "bad_request", 2),
        (["store", "hubspot"], '{"access_token": "a", "expires_at": "tomorrow"}', "bad_request", 2),
        (["erase", "hubspot"], '{"revoke": "yes"}', "bad_request", 2),
        (["frobnicate", "hubspot"], "", "bad_request", 2),
        (["get", "no-such-provider"], "", "unknown_provider", 4),
        (["get", "hubspot", "--connection", "nope"], "", "not_found", 3),
        (["get", "hubspot", "--connection", "../etc"], "", "bad_request", 2),
        (["get"], "", "bad_request", 2),
        (["get", "hubspot", "--bogus"], "", "bad_request", 2),
    ],
)
def test_bad_input_is_one_error_and_changes_nothing(home, run, args, stdin, code, exit_code):
    run("authsome-helper", "store", "hubspot", input='{"access_token":"keep-me","expires_in":3600}')
    before = _vault_digest(home)
    r = run("authsome-helper", *args, input=stdin)
    assert r.returncode == exit_code, r.stderr
    assert json.loads(r.stdout)["error"]["code"] == code
    assert r.stdout.count("\n") == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert _vault_digest(home) == before


@pytest.mark.parametrize(
    "argv, stdin",
    [
        (["--connection", "c" * 300], ""),  # was exit 6: "cannot read ...: File name too long"
        (["--connection", "a\udcffb"], ""),  # argv bytes that are not UTF-8: internal error
        ([], '{"connection": "\\udcff"}'),  # a lone surrogate in JSON: internal error
    ],
    ids=["too long", "not UTF-8", "lone surrogate"],
)
def test_get_with_a_connection_name_that_cannot_be_one_is_bad_request(argv, stdin, home, run):
    run("authsome-helper", "store", "hubspot", input='{"access_token": "t"}')
    r = run("authsome-helper", "get", "hubspot", *argv, input=stdin)
    assert r.returncode == 2, r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "bad_request"
    assert r.stderr.startswith("authsome-helper: bad connection name ")
    assert r.stderr.count("\n") == 1


def test_erase_list_version(home, run):
    run("authsome-helper", "store", "hubspot", input='{"access_token":"t","expires_in":60}')
    listed = json.loads(run("authsome-helper", "list").stdout)
    assert listed["connections"][0]["provider"] == "hubspot"
    assert listed["connections"][0]["status"] == "connected"
    assert json.loads(run("authsome-helper", "erase", "hubspot").stdout)["ok"] is True
    assert run("authsome-helper", "get", "hubspot").returncode == 3
    version = json.loads(run("authsome-helper", "version").stdout)
    assert "get" in version["actions"] and version["version"]


def test_export_quotes_hostile_values(home, run, tmp_path):
    hostile = "a'b\"c$(touch PWNED)`x`\\;"
    run("authsome-helper", "store", "hubspot", input=json.dumps({"access_token": hostile}))
    r = run("authsome", "export", "hubspot", "--format", "env")
    assert r.returncode == 0
    script = tmp_path / "s.sh"
    script.write_text(r.stdout + 'printf %s "$HUBSPOT_ACCESS_TOKEN"')
    import subprocess

    for shell in ("sh", "bash"):
        out = subprocess.run([shell, str(script)], capture_output=True, text=True, cwd=tmp_path)
        assert out.stdout == hostile
    assert not (tmp_path / "PWNED").exists()
    dotenv = run("authsome", "export", "hubspot", "--format", "dotenv").stdout
    assert dotenv.startswith("HUBSPOT_ACCESS_TOKEN=")
    # a .env is often sourced by a shell (`set -a; . ./.env`): a backquote in the value
    # was left bare inside double quotes and ran as a command
    script.write_text(dotenv + 'printf %s "$HUBSPOT_ACCESS_TOKEN"')
    for shell in ("sh", "bash"):
        out = subprocess.run([shell, str(script)], capture_output=True, text=True, cwd=tmp_path)
        assert (out.stdout, out.stderr) == (hostile, "")
    assert json.loads(run("authsome", "export", "hubspot", "--format", "json").stdout) == {
        "HUBSPOT_ACCESS_TOKEN": hostile
    }


def test_cli_errors_are_one_line_with_spec_exit_codes(home, run):
    cases = [
        (["get", "nope"], 4),
        (["get", "hubspot"], 3),
        (["inspect", "nope"], 4),
        (["export", "hubspot", "--format", "xml"], 2),
        (["--no-such-flag"], 2),
        (["get", "hubspot", "--field", "refresh_token"], 2),
    ]
    for args, code in cases:
        r = run("authsome", *args)
        assert r.returncode == code, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, args


def test_version_and_log(home, run):
    assert run("authsome", "--version").stdout.startswith("authsome ")
    run("authsome-helper", "store", "hubspot", input='{"access_token":"t"}')
    events = json.loads(run("authsome", "log", "--json", "-n", "5").stdout)
    assert events[-1]["event"] == "store" and events[-1]["provider"] == "hubspot"
    assert json.loads(run("authsome", "log", "--json", "--provider", "openai").stdout) == []


def test_log_filters_by_provider_time_and_count(home, run):
    lines = [
        {"time": "2026-01-01T00:00:00Z", "event": "read", "provider": "hubspot"},
        {"time": "2026-01-02T00:00:00Z", "event": "read", "provider": "openai"},
        "not json",
        {"time": "2026-01-03T00:00:00Z", "event": "refresh", "provider": "hubspot"},
        {"time": "2026-01-04T00:00:00Z", "event": "read", "provider": "hubspot"},
    ]
    home.mkdir(parents=True, exist_ok=True)
    (home / "audit.log.1").write_text(json.dumps(lines[0]) + "\n")
    (home / "audit.log").write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines[1:])
    )

    def log(*args):
        r = run("authsome", "log", "--json", *args)
        assert r.returncode == 0, r.stderr
        return [(e["time"][:10], e["event"]) for e in json.loads(r.stdout)]

    assert log("--provider", "hubspot", "-n", "2") == [
        ("2026-01-03", "refresh"),
        ("2026-01-04", "read"),
    ]
    assert log("--provider", "hubspot", "--since", "2026-01-02T12:00:00Z") == [
        ("2026-01-03", "refresh"),
        ("2026-01-04", "read"),
    ]
    assert log("-n", "0") == []
    assert len(log("-n", "100")) == 4  # both files, oldest first, the broken line skipped
    assert log("-n", "100")[0] == ("2026-01-01", "read")


def test_doctor_names_problems_and_exits_nonzero(home, run):
    run("authsome-helper", "store", "hubspot", input='{"access_token":"t"}')
    assert run("authsome", "doctor").returncode == 0
    os.chmod(home, 0o755)
    (home / "providers").mkdir(exist_ok=True)
    (home / "providers" / "bad.json").write_text("{")
    r = run("authsome", "doctor")
    assert r.returncode == 1
    assert "chmod 700" in r.stdout and "bad.json" in r.stdout


def test_audit_log_rotates_past_its_size_limit(home, run, monkeypatch):
    from authsome import audit

    run("authsome-helper", "store", "hubspot", input='{"access_token":"t"}')
    monkeypatch.setattr(audit, "MAX_BYTES", 200)
    for _ in range(5):
        audit.record("read", provider="hubspot", connection="default")
    assert (home / "audit.log.1").exists()
    current = home / "audit.log"
    assert not current.exists() or current.stat().st_size <= 400
    assert oct((home / "audit.log.1").stat().st_mode & 0o777) == "0o600"


def test_query_param_key_answers_query_params_and_no_header(home, run):
    # SerpApi takes its key only as ?api_key=: no header would authenticate.
    assert run("authsome", "login", "serpapi", "--api-key-stdin", input="serp-k1").returncode == 0
    for _ in range(2):  # the first answer from the service, the second from the fast path
        answer = json.loads(run("authsome-helper", "get", "serpapi").stdout)
        assert answer["api_key"] == "serp-k1"
        assert answer["headers"] == {}
        assert answer["query_params"] == {"api_key": "serp-k1"}
        assert answer["env"] == {"SERPAPI_API_KEY": "serp-k1"}
    assert "query_params" not in json.loads(run("authsome-helper", "get", "openai").stdout or "{}")
