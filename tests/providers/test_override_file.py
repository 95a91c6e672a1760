"""The product page's override command, exactly as written, through a real shell:

    authsome inspect hubspot > ~/.authsome/providers/hubspot.json

The shell creates (or truncates) the file before authsome runs; the command must still
print the bundled definition, and a file the shell leaves empty counts as absent."""

from __future__ import annotations

import json
import os
import stat
import subprocess

from support.cli import BIN


def shell(command: str) -> subprocess.CompletedProcess:
    """`command` in bash with the default umask, our console scripts on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f"umask 022; {command}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


OVERRIDE = 'authsome inspect {name} > "$AUTHSOME_HOME/providers/{name}.json"'


def listed(run) -> dict[str, dict]:
    r = run("authsome", "list", "--json")
    assert r.returncode == 0, r.stderr
    return {item["name"]: item for item in json.loads(r.stdout)}


def bundled(run, name: str) -> dict:
    r = run("authsome", "inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def edit_scopes(home, name: str, scopes: list[str], **extra) -> None:
    path = home / "providers" / f"{name}.json"
    data = json.loads(path.read_text())
    data["oauth"]["scopes"] = scopes
    data["oauth"].update(extra.pop("oauth", {}))
    data.update(extra)
    path.write_text(json.dumps(data, indent=2))


def test_page_command_on_a_fresh_home_then_edit_a_scope(home, run):
    assert not home.exists()
    assert run("authsome", "list").returncode == 0  # the README's first command
    assert stat.S_IMODE((home / "providers").stat().st_mode) == 0o700
    original = bundled(run, "hubspot")
    res = shell(OVERRIDE.format(name="hubspot"))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    path = home / "providers" / "hubspot.json"
    assert json.loads(path.read_text()) == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # the umask's mode is accepted
    assert listed(run)["hubspot"]["source"] == "custom"
    edit_scopes(home, "hubspot", ["crm.objects.contacts.read"])
    assert listed(run)["hubspot"]["source"] == "custom"
    assert bundled(run, "hubspot")["oauth"]["scopes"] == ["crm.objects.contacts.read"]
    # doctor notes the mode (a definition holds no secret) without failing on it
    checks = json.loads(run("authsome", "doctor", "--json").stdout)
    about = [c for c in checks if str(path) in c["message"]]
    assert about and all(c["level"] == "warn" for c in about), about
    assert f"chmod 600 {path}" in about[0]["fix"]


def test_page_command_on_a_home_with_connections_keeps_them_working(home, run):
    r = run("authsome", "login", "openai", "--api-key-stdin", input="sk-proj-override-test")
    assert r.returncode == 0, r.stderr
    body = json.dumps({"access_token": "hs-token-override", "expires_in": 3600})
    assert run("authsome-helper", "store", "hubspot", input=body).returncode == 0
    for name in ("openai", "hubspot"):
        res = shell(OVERRIDE.format(name=name))
        assert res.returncode == 0, res.stderr
    items = listed(run)
    assert items["openai"]["source"] == items["hubspot"]["source"] == "custom"
    connected = json.loads(run("authsome", "list", "--connected", "--json").stdout)
    assert {i["name"] for i in connected} == {"openai", "hubspot"}
    for name in ("openai", "hubspot"):
        assert run("authsome", "get", name, "--field", "status").stdout.strip() == "connected"
        assert run("authsome-helper", "get", name).returncode == 0
    edit_scopes(home, "hubspot", ["crm.objects.deals.read"])
    assert bundled(run, "hubspot")["oauth"]["scopes"] == ["crm.objects.deals.read"]
    assert run("authsome-helper", "get", "hubspot").returncode == 0


def test_an_empty_override_counts_as_absent(home, run):
    body = json.dumps({"access_token": "hs-token-empty", "expires_in": 3600})
    assert run("authsome-helper", "store", "hubspot", input=body).returncode == 0
    (home / "providers" / "hubspot.json").write_text("")  # what a failed redirect leaves
    assert listed(run)["hubspot"]["source"] == "bundled"
    assert run("authsome-helper", "get", "hubspot").returncode == 0
    assert run("authsome", "get", "hubspot").returncode == 0


def test_a_world_writable_override_is_refused(home, run):
    body = json.dumps({"access_token": "hs-token-ww", "expires_in": 3600})
    assert run("authsome-helper", "store", "hubspot", input=body).returncode == 0
    assert shell(OVERRIDE.format(name="hubspot")).returncode == 0
    path = home / "providers" / "hubspot.json"
    path.chmod(0o666)
    r = run("authsome", "list")
    assert "hubspot" not in [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert f"{path}: writable by other users" in r.stderr and "chmod 600" in r.stderr
    for argv in (("authsome", "get", "hubspot"), ("authsome-helper", "get", "hubspot")):
        r = run(*argv)
        assert r.returncode == 2, (argv, r.stdout, r.stderr)
        assert "writable by other users" in r.stderr + r.stdout
        assert "hs-token-ww" not in r.stdout
    assert "Traceback" not in r.stderr
    checks = json.loads(run("authsome", "doctor", "--json").stdout)
    assert any(c["level"] == "fail" and str(path) in c["message"] for c in checks)


def test_unknown_keys_warn_with_the_file_the_key_and_the_nearest_known_key(home, run):
    assert run("authsome", "list").returncode == 0
    assert shell(OVERRIDE.format(name="hubspot")).returncode == 0
    path = home / "providers" / "hubspot.json"
    edit_scopes(home, "hubspot", ["a.read"], oauth={"scopez": ["b"]}, base_url="https://x")
    r = run("authsome", "list")
    assert r.returncode == 0
    assert f"{path}: unknown key 'oauth.scopez' (did you mean 'oauth.scopes'?)" in r.stderr
    assert f"{path}: unknown key 'base_url'" in r.stderr
    # kept (and printed back by inspect), ignored by everything else
    shown = json.loads(run("authsome", "inspect", "hubspot").stdout)
    assert shown["oauth"]["scopez"] == ["b"] and shown["base_url"] == "https://x"
    assert shown["oauth"]["scopes"] == ["a.read"] and "raw" not in shown
    checks = json.loads(run("authsome", "doctor", "--json").stdout)
    warned = [c for c in checks if c["name"] == "providers" and c["level"] == "warn"]
    assert len(warned) == 1 and "1 definition file(s) with warnings" in warned[0]["message"]
    # bundled definitions carry no unknown key
    bundled_only = home.parent / "other-home"
    env = {**os.environ, "AUTHSOME_HOME": str(bundled_only)}
    assert "unknown key" not in run("authsome", "list", env=env).stderr


def test_no_bundled_definition_holds_a_key_that_would_warn():
    from authsome.providers.compat import upgrade_legacy
    from authsome.providers.rules import BUNDLED_DIR, json_files
    from authsome.providers.unknown import unknown_keys

    for name, path in json_files(BUNDLED_DIR).items():
        with open(path, encoding="utf-8") as f:
            assert unknown_keys(upgrade_legacy(json.load(f))) == [], name


def test_login_shows_the_unknown_key_warnings_too(home, run):
    assert run("authsome", "list").returncode == 0
    assert shell(OVERRIDE.format(name="openai")).returncode == 0
    path = home / "providers" / "openai.json"
    data = json.loads(path.read_text())
    data["api_key"]["key_patern"] = "^sk-proj-"  # a typo: the pattern is not applied
    path.write_text(json.dumps(data, indent=2))
    key = "sk-override-warn-key-1"
    r = run("authsome", "login", "openai", "--api-key-stdin", input=key)
    assert r.returncode == 0, r.stderr
    line = f"{path}: unknown key 'api_key.key_patern' (did you mean 'api_key.key_pattern'?)"
    assert r.stderr.count(line) == 1, r.stderr
    assert key not in r.stdout + r.stderr
    # a refused login warns as well: the typo may be why it was refused
    r = run("authsome", "login", "openai", "--flow", "pkce")
    assert r.returncode == 2 and r.stderr.count(line) == 1, r.stderr


def test_get_export_run_and_logout_warn_once_on_stderr_leaving_stdout_alone(home, run):
    """Every command that uses the definition says its file's unknown keys, once, on
    stderr; stdout (what scripts parse or eval) is exactly what it is without them."""
    key = "sk-override-warn-key-2"
    r = run("authsome", "login", "openai", "--api-key-stdin", input=key)
    assert r.returncode == 0, r.stderr
    plain = {
        "get": run("authsome", "get", "openai", "--field", "status"),
        "json": run("authsome", "get", "openai", "--json"),
        "export": run("authsome", "export", "openai", "openai", "--format", "env"),
        "run": run("authsome", "run", "--only", "openai", "--", "sh", "-c", "echo child ran"),
    }
    assert all(r.returncode == 0 and "unknown key" not in r.stderr for r in plain.values())
    assert shell(OVERRIDE.format(name="openai")).returncode == 0
    path = home / "providers" / "openai.json"
    data = json.loads(path.read_text())
    data["api_key"]["key_patern"] = "^sk-proj-"
    path.write_text(json.dumps(data, indent=2))
    line = f"{path}: unknown key 'api_key.key_patern' (did you mean 'api_key.key_pattern'?)"
    warned = {
        "get": run("authsome", "get", "openai", "--field", "status"),
        "json": run("authsome", "get", "openai", "--json"),
        "export": run("authsome", "export", "openai", "openai", "--format", "env"),
        "run": run("authsome", "run", "--only", "openai", "--", "sh", "-c", "echo child ran"),
    }
    for what, r in warned.items():
        assert r.returncode == 0, (what, r.stderr)
        assert r.stderr.count(line) == 1, (what, r.stderr)
        if what == "json":  # expires_in and the like may differ by a second: compare parsed
            assert json.loads(r.stdout) == json.loads(plain[what].stdout)
        else:
            assert r.stdout == plain[what].stdout, what
    assert warned["get"].stdout == "connected\n" and warned["run"].stdout == "child ran\n"
    assert warned["export"].stdout == f"export OPENAI_API_KEY='{key}'\n"
    assert key not in "".join(r.stderr for r in warned.values())
    r = run("authsome", "logout", "openai")
    assert r.returncode == 0 and r.stderr.count(line) == 1, r.stderr
    assert run("authsome", "get", "openai").returncode == 3
