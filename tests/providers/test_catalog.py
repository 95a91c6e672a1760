"""Checks on the bundled provider catalog, read as plain JSON (no loader needed)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import authsome
from authsome.cli.cmd_inspect import FIELD_ORDER

BUNDLED = Path(authsome.__file__).parent / "providers" / "bundled"
FILES = sorted(BUNDLED.glob("*.json"))

SPEC_KEYS = set(FIELD_ORDER)
OAUTH_KEYS = {
    "authorization_url",
    "token_url",
    "revocation_url",
    "device_authorization_url",
    "registration_url",
    "metadata_url",
    "scopes",
    "pkce",
    "supports_device_code",
    "supports_dcr",
    "client_auth",
    "authorization_params",
}
# Optional in a file (default " "); set only where the provider's docs want commas.
OPTIONAL_OAUTH_KEYS = {
    "refresh_url",
    "scope_separator",
    "header_name",
    "header_prefix",
    "revocation_client_auth",
    "request_body",
    "revocation_body",
}
COMMA_SCOPES = {"slack", "linear", "todoist", "strava", "shopify"}
# oauth2 providers whose API documents the token in a header other than Authorization.
OWN_TOKEN_HEADER = {"shopify": ("X-Shopify-Access-Token", None)}
API_KEY_KEYS = {"header_name", "header_prefix", "key_pattern", "env_var"}
# API-key providers whose key goes only in a URL query parameter (their own docs say so).
QUERY_PARAM_KEYS = {"serpapi": "api_key"}
URL_FIELDS = sorted(
    OAUTH_KEYS
    - {
        "scopes",
        "pkce",
        "supports_device_code",
        "supports_dcr",
        "client_auth",
        "authorization_params",
    }
)

HUBSPOT_TOKENS_PAGE = (
    "https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens"
)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ENV_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
PLACEHOLDER_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
HOST_RE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$")
HEADER_RE = re.compile(r"^[A-Za-z0-9-]+$")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


ALL = {p.stem: _load(p) for p in FILES}


def _fill(value: str) -> str:
    """Replace {placeholder}s with a plausible host label so the URL can be parsed."""
    return PLACEHOLDER_RE.sub("example", value)


def _placeholders(defn: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for entry in defn["api_url"]:
        found |= set(PLACEHOLDER_RE.findall(entry))
    if defn["oauth"]:
        for field in URL_FIELDS:
            if defn["oauth"][field]:
                found |= set(PLACEHOLDER_RE.findall(defn["oauth"][field]))
    for host in defn["git_hosts"]:
        found |= set(PLACEHOLDER_RE.findall(host["host"]))
    return found


def _is_https(url: str) -> bool:
    parts = urlsplit(_fill(url))
    return parts.scheme == "https" and bool(parts.hostname) and " " not in url


def test_catalog_size() -> None:
    assert len(FILES) >= 100


def test_names_unique_and_match_filename() -> None:
    names = [d["name"] for d in ALL.values()]
    assert len(names) == len(set(names))
    for stem, defn in ALL.items():
        assert defn["name"] == stem
        assert NAME_RE.match(stem), stem


@pytest.mark.parametrize("name", sorted(ALL))
def test_definition_shape(name: str) -> None:
    defn = ALL[name]
    assert set(defn) >= SPEC_KEYS, SPEC_KEYS - set(defn)
    assert defn["schema_version"] == 1
    assert isinstance(defn["display_name"], str) and defn["display_name"]
    assert isinstance(defn["description"], str) and defn["description"]
    assert _is_https(defn["docs_url"]) and "{" not in defn["docs_url"]
    assert isinstance(defn["api_url"], list) and defn["api_url"]

    if defn["auth_type"] == "api_key":
        assert defn["flow"] == "api_key"
        assert defn["oauth"] is None
        key = defn["api_key"]
        assert set(key) - {"query_param", "basic_user", "basic_user_prompt"} == API_KEY_KEYS
        if "basic_user" in key or "basic_user_prompt" in key:  # HTTP Basic, key as password
            assert key["header_prefix"] == "Basic" and name in ("mailchimp", "twilio")
        assert key.get("query_param") == QUERY_PARAM_KEYS.get(name)
        if name in QUERY_PARAM_KEYS:
            assert key["header_name"] is None and key["header_prefix"] is None
        else:
            assert HEADER_RE.match(key["header_name"])
        assert key["header_prefix"] is None or (
            isinstance(key["header_prefix"], str) and key["header_prefix"].strip()
        )
        if key["key_pattern"] is not None:
            re.compile(key["key_pattern"])
        assert ENV_RE.match(key["env_var"])
        assert defn["env"] == {"api_key": key["env_var"]}
    else:
        assert defn["auth_type"] == "oauth2"
        assert defn["flow"] in {"pkce", "device_code", "dcr_pkce"}
        assert defn["api_key"] is None
        oauth = defn["oauth"]
        assert OAUTH_KEYS <= set(oauth) <= OAUTH_KEYS | OPTIONAL_OAUTH_KEYS
        assert oauth.get("scope_separator", " ") in {" ", ","}
        for field in [*URL_FIELDS, "refresh_url"]:
            if oauth.get(field) is not None:
                assert _is_https(oauth[field]), (field, oauth[field])
        assert oauth["client_auth"] in {"body", "basic"}
        assert isinstance(oauth["scopes"], list)
        assert all(isinstance(s, str) and s and " " not in s for s in oauth["scopes"])
        assert all(isinstance(v, str) for v in oauth["authorization_params"].values())
        assert oauth["supports_device_code"] == (oauth["device_authorization_url"] is not None)
        if defn["flow"] == "device_code":
            assert oauth["supports_device_code"]
        # An MCP server's login discovers everything from mcp.url (tests/remote_mcp).
        discovered = bool(defn.get("mcp"))
        if defn["flow"] == "dcr_pkce":
            assert oauth["supports_dcr"] and oauth["pkce"]
            assert oauth["registration_url"] or oauth["metadata_url"] or discovered
        if defn["flow"] in {"pkce", "dcr_pkce"}:
            # Discovery via metadata_url may supply the endpoints for DCR providers.
            endpoints = oauth["authorization_url"] and oauth["token_url"]
            assert endpoints or oauth["metadata_url"] or discovered
        assert set(defn["env"]) <= {"access_token", "refresh_token"}
        assert "access_token" in defn["env"]

    for var in defn["env"].values():
        assert ENV_RE.match(var), var
    for host in defn["git_hosts"]:
        assert set(host) == {"host", "username"}
        assert HOST_RE.match(_fill(host["host"])) and host["username"]


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_definition_records_where_and_when_it_was_checked(name: str) -> None:
    """`verified`: the provider's own page the entry was checked against, and the day;
    a `note` says what that check left open (or that none has been made since writing)."""
    verified = ALL[name].get("verified")
    assert isinstance(verified, dict), f"{name}: no verified (see docs/providers.md)"
    assert {"date", "source"} <= set(verified) <= {"date", "source", "note"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", verified["date"])
    assert date.fromisoformat(verified["date"]) <= date.today()  # no check from the future
    assert _is_https(verified["source"]) and "{" not in verified["source"]
    note = verified.get("note")
    assert note is None or (isinstance(note, str) and note.strip())


@pytest.mark.parametrize("name", sorted(ALL))
def test_api_url_entries_parse(name: str) -> None:
    for entry in ALL[name]["api_url"]:
        if entry.startswith("regex:"):
            re.compile(entry[len("regex:") :])
        else:
            assert HOST_RE.match(_fill(entry)), entry
            assert "://" not in entry


@pytest.mark.parametrize("name", sorted(ALL))
def test_templates_declared(name: str) -> None:
    defn = ALL[name]
    used = _placeholders(defn)
    declared = defn.get("templates", {})
    assert used == set(declared), (used, set(declared))
    for spec in declared.values():
        # from_token (optional): a token-response field that fills it (Salesforce's instance_url)
        assert (
            {"description", "example", "default"}
            <= set(spec)
            <= {
                "description",
                "example",
                "default",
                "from_token",
            }
        )
        assert spec["description"] and spec["example"]


def test_env_vars_not_shared_between_providers() -> None:
    # Two providers exporting the same variable would clobber each other in one shell.
    seen: dict[str, str] = {}
    for name, defn in ALL.items():
        for var in defn["env"].values():
            assert var not in seen, (var, seen.get(var), name)
            seen[var] = name


def test_hubspot_exact() -> None:
    assert ALL["hubspot"] == {
        "schema_version": 1,
        "name": "hubspot",
        "display_name": "HubSpot",
        "description": "CRM contacts, companies, deals, owners.",
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": ["api.hubapi.com"],
        "oauth": {
            "authorization_url": "https://app.hubspot.com/oauth/authorize",
            "token_url": "https://api.hubapi.com/oauth/2026-03/token",
            "revocation_url": "https://api.hubapi.com/oauth/2026-03/token/revoke",
            "device_authorization_url": None,
            "registration_url": None,
            "metadata_url": None,
            "scopes": [
                "crm.objects.contacts.read",
                "crm.objects.contacts.write",
                "crm.objects.companies.read",
                "crm.objects.companies.write",
                "crm.objects.deals.read",
                "crm.objects.deals.write",
                "crm.objects.owners.read",
            ],
            "pkce": False,
            "supports_device_code": False,
            "supports_dcr": False,
            "client_auth": "body",
            "authorization_params": {},
        },
        "api_key": None,
        "env": {"access_token": "HUBSPOT_ACCESS_TOKEN", "refresh_token": "HUBSPOT_REFRESH_TOKEN"},
        "git_hosts": [],
        "docs_url": HUBSPOT_TOKENS_PAGE,
        "verified": ALL["hubspot"]["verified"],
    }
    assert ALL["hubspot"]["verified"]["source"] == HUBSPOT_TOKENS_PAGE


def test_corrections_from_the_providers_own_pages() -> None:
    """Each found by checking the provider's documentation; each names it in `verified`."""
    assert ALL["pipedrive"]["oauth"]["revocation_url"] == "https://oauth.pipedrive.com/oauth/revoke"
    todoist = ALL["todoist"]["oauth"]
    assert todoist["revocation_url"] == "https://api.todoist.com/api/v1/revoke"
    assert todoist["revocation_client_auth"] == "basic"
    assert ALL["discord"]["oauth"]["pkce"] is True  # S256 in Discord's RFC 8414 metadata
    assert ALL["slack"]["oauth"]["pkce"] is False  # PKCE would make the app a public client
    assert ALL["hubspot"]["oauth"]["pkce"] is False
    do = re.compile(ALL["digitalocean"]["api_key"]["key_pattern"])
    for token in ("dop_v1_" + "a" * 64, "doo_v1_" + "b" * 64, "c" * 64):
        assert do.search(token), token
    assert not do.search("dor_v1_" + "d" * 64)  # a refresh token pasted by mistake
    assert {"api.eu.deepgram.com", "api.au.deepgram.com", "api.in.deepgram.com"} <= set(
        ALL["deepgram"]["api_url"]
    )
    for name in ("pipedrive", "todoist", "discord", "slack", "digitalocean", "deepgram"):
        assert ALL[name]["verified"]["date"] >= "2026-12-04", name
    auth_pages = {
        "jina": "https://docs.jina.ai/",
        "serpapi": "https://serpapi.com/search-api#api-parameters-serpapi-parameters-api-key",
        "mistral": "https://docs.mistral.ai/admin/security-access/api-keys",
        "deepseek": "https://api-docs.deepseek.com/quick_start/your_first_api_call",
        "honeycomb": "https://docs.honeycomb.io/api/authentication",
    }
    for name, page in auth_pages.items():
        assert ALL[name]["docs_url"] == page, name
        if name != "mistral":  # verified there cites Mistral's Regional inference page
            assert ALL[name]["verified"]["source"] == page, name
    assert {"api.eu.mistral.ai", "api.us.mistral.ai"} <= set(ALL["mistral"]["api_url"])


def test_core_providers() -> None:
    gh = ALL["github"]
    assert gh["oauth"]["supports_device_code"]
    assert gh["oauth"]["device_authorization_url"] == "https://github.com/login/device/code"
    assert {"host": "github.com", "username": "x-access-token"} in gh["git_hosts"]
    assert "api.github.com" in gh["api_url"]
    assert ALL["openai"]["api_key"] == {
        "header_name": "Authorization",
        "header_prefix": "Bearer",
        "key_pattern": "^sk-",
        "env_var": "OPENAI_API_KEY",
    }
    anthropic = ALL["anthropic"]["api_key"]
    assert anthropic["header_name"] == "x-api-key" and anthropic["header_prefix"] is None
    assert anthropic["env_var"] == "ANTHROPIC_API_KEY"
    for name in ("google", "slack", "notion", "linear"):
        assert ALL[name]["auth_type"] == "oauth2"


def test_comma_separated_scopes_where_the_docs_say_so() -> None:
    oauth = {name: d["oauth"] for name, d in ALL.items() if d["oauth"]}
    commas = {name for name, o in oauth.items() if o.get("scope_separator") == ","}
    assert commas == COMMA_SCOPES


def test_own_token_header_where_the_docs_say_so() -> None:
    oauth = {name: d["oauth"] for name, d in ALL.items() if d["oauth"]}
    own = {
        name: (o["header_name"], o.get("header_prefix", "Bearer"))
        for name, o in oauth.items()
        if o.get("header_name", "Authorization") != "Authorization"
    }
    assert own == OWN_TOKEN_HEADER


def test_dcr_providers_present() -> None:
    dcr = [d for d in ALL.values() if d["flow"] == "dcr_pkce"]
    assert len(dcr) >= 3


def test_no_exact_api_url_shared_between_providers() -> None:
    # Identical exact entries tie in host matching, so the proxy would inject nothing.
    seen: dict[str, str] = {}
    for name, defn in ALL.items():
        for entry in defn["api_url"]:
            if entry.startswith("regex:") or "{" in entry:
                continue  # templated hosts differ once filled in
            assert entry not in seen, (entry, seen.get(entry), name)
            seen[entry] = name


def test_loader_accepts_every_bundled_definition(tmp_path: Path) -> None:
    providers = pytest.importorskip("authsome.providers.loader")
    registry = providers.load_registry(str(tmp_path))
    assert [str(e) for e in registry.errors] == []
    loaded = registry.all()
    assert sorted(p.name for p in loaded) == sorted(ALL)
    assert {p.source for p in loaded} == {"bundled"}


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("api.github.com", "/user", "github"),
        ("api.hubapi.com", "/crm/v3/objects/contacts", "hubspot"),
        ("gmail.googleapis.com", "/gmail/v1/users/me/messages", "gmail"),
        ("sheets.googleapis.com", "/v4/spreadsheets/x", "google-sheets"),
        ("people.googleapis.com", "/v1/people/me", "google"),
        ("www.googleapis.com", "/drive/v3/files", "google-drive"),
        ("www.googleapis.com", "/calendar/v3/calendars", "google-calendar"),
        ("api.atlassian.com", "/ex/jira/cloud-id/rest/api/3/issue", "jira"),
        ("api.atlassian.com", "/ex/confluence/cloud-id/wiki/api/v2/pages", "confluence"),
        ("api.atlassian.com", "/me", "atlassian"),
        ("api.anthropic.com", "/v1/messages", "anthropic"),
        ("generativelanguage.googleapis.com", "/v1beta/models", "gemini"),
        ("mcp.notion.com", "/mcp", "notion-mcp"),
        ("api.notion.com", "/v1/search", "notion"),
        ("example.com", "/", None),
    ],
)
def test_host_matching_over_catalog(host: str, path: str, expected: str | None) -> None:
    matching = pytest.importorskip("authsome.providers.matching")
    candidates = [(name, entry) for name, defn in ALL.items() for entry in defn["api_url"]]
    assert matching.match_url(candidates, host, path) == expected


def test_salesforce_host_comes_from_the_connection() -> None:
    # The API host is the token response's instance_url, kept in the connection's params.
    from authsome.providers import load_registry
    from authsome.providers.matching import match_url
    from authsome.providers.templates import fill_provider

    sf = fill_provider(
        load_registry("/nonexistent").get("salesforce"), {"instance": "na1.salesforce.com"}
    )
    assert sf.oauth.token_url == "https://login.salesforce.com/services/oauth2/token"
    candidates = [("salesforce", e) for e in sf.api_url]
    assert match_url(candidates, "na1.salesforce.com", "/services/data/") == "salesforce"
