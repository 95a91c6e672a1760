"""`oauth.scope_separator` in the schema: default, allowed values, errors, inspect round-trip."""

from __future__ import annotations

import json

import pytest

from authsome.errors import ProviderError
from authsome.providers import load_registry


def _write(home, name: str, **oauth) -> str:
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": name.title(),
        "auth_type": "oauth2",
        "flow": "pkce",
        "oauth": {"token_url": f"https://{name}.example.com/token", **oauth},
    }
    (home / "providers").mkdir(parents=True, exist_ok=True)
    path = home / "providers" / f"{name}.json"
    path.write_text(json.dumps(definition))
    return str(path)


def test_absent_means_space_and_comma_is_kept(home):
    _write(home, "old")  # a file written before the field existed
    _write(home, "commas", scope_separator=",")
    registry = load_registry(str(home))
    assert registry.get("old").oauth.scope_separator == " "
    assert registry.get("commas").oauth.scope_separator == ","
    assert registry.get("slack").oauth.scope_separator == ","  # bundled
    assert registry.get("hubspot").oauth.scope_separator == " "


@pytest.mark.parametrize("value", [";", "", ", ", "+", None, 1, [","]])
def test_other_values_name_the_file_and_field(home, run, value):
    path = _write(home, "acme", scope_separator=value)
    registry = load_registry(str(home))
    with pytest.raises(ProviderError) as info:
        registry.get("acme")
    assert (info.value.path, info.value.field) == (path, "oauth.scope_separator")
    assert "hubspot" in {p.name for p in registry.all()}  # the others still load
    r = run("authsome", "list")
    assert r.returncode == 0 and "hubspot" in r.stdout
    assert path in r.stderr and "oauth.scope_separator" in r.stderr
    assert "Traceback" not in r.stderr


def test_inspect_round_trip_keeps_the_separator(home, run):
    d = json.loads(run("authsome", "inspect", "slack").stdout)
    assert d["oauth"]["scope_separator"] == ","
    hubspot = json.loads(run("authsome", "inspect", "hubspot").stdout)
    assert hubspot["oauth"]["scope_separator"] == " "
    d["oauth"]["scopes"] = ["chat:write"]
    (home / "providers").mkdir(parents=True, exist_ok=True)
    (home / "providers" / "slack.json").write_text(json.dumps(d))
    slack = load_registry(str(home)).get("slack")
    assert slack.source == "custom" and slack.oauth.scope_separator == ","
    again = json.loads(run("authsome", "inspect", "slack").stdout)
    assert again == d
