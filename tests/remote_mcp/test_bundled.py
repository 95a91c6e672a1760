"""Bundled MCP entries carry only the server's URL (`mcp.url`): every login discovers the
authorization as `login --mcp` does, and nothing is written over the bundled entry."""

from __future__ import annotations

import json
import webbrowser

from authsome.credentials import CredentialService
from authsome.providers import loader, rules
from support.mcp_server import MCP_HOST


def bundled_mcp_entries() -> list[dict]:
    entries = []
    for path in sorted(rules.json_files(rules.BUNDLED_DIR).values()):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("mcp"):
            entries.append(data)
    return entries


def test_bundled_mcp_entries_hard_code_no_endpoint():
    entries = bundled_mcp_entries()
    assert len(entries) >= 7
    for data in entries:
        oauth = data["oauth"]
        for field in ("authorization_url", "token_url", "registration_url", "metadata_url"):
            assert oauth[field] is None, (data["name"], field)
        assert data["mcp"]["url"].startswith("https://")
        host = data["mcp"]["url"].split("/")[2]
        assert any(entry.split("/")[0] == host for entry in data["api_url"]), data["name"]
        assert loader.parse_definition(data, source="bundled").mcp.url == data["mcp"]["url"]


def test_a_bundled_entry_discovers_at_login_and_refresh_carries_the_resource(
    home, auth, mcp, reach, tmp_path, monkeypatch
):
    # A bundled entry shaped like linear-mcp.json, for the test server.
    shipped = next(d for d in bundled_mcp_entries() if d["name"] == "linear-mcp")
    entry = {
        **shipped,
        "name": "testmcp",
        "api_url": [f"{MCP_HOST}:{mcp.port}/mcp"],
        "env": {"access_token": "TESTMCP_ACCESS_TOKEN"},
        "mcp": {"url": mcp.url},
    }
    folder = tmp_path / "bundled"
    folder.mkdir()
    (folder / "testmcp.json").write_text(json.dumps(entry))
    monkeypatch.setattr(loader, "BUNDLED_DIR", str(folder))
    monkeypatch.setattr(rules, "BUNDLED_DIR", str(folder))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # read BROWSER afresh
    from authsome.cli.main import main

    assert main(["login", "testmcp"]) == 0
    assert not any((home / "providers").glob("*.json"))  # the bundled entry is not copied
    codes = [r["form"] for r in auth.requests if r["grant_type"] == "authorization_code"]
    assert codes[-1]["resource"] == mcp.url and auth.counts["register"] == 1

    service = CredentialService()
    assert service.registry.get("testmcp").source == "bundled"
    token = service.get("testmcp", force_refresh=True).access_token
    refreshes = [r["form"] for r in auth.requests if r["grant_type"] == "refresh_token"]
    assert refreshes[-1]["resource"] == mcp.url
    assert auth.token_info(token)["aud"] == mcp.url
