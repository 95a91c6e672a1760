"""A provider definition's rules, on its raw JSON dict: where definitions live, how a
connection's values fill the {placeholders}, which variable carries the secret.

One set of rules for both readers: the hot path (`fastpath`, the adapters, `run`'s
start) reads definitions as dicts, and the attrs model (`providers.model`, `.templates`,
`.loader`) delegates here. Import-light: no `re`, no attrs.
"""

from __future__ import annotations

import os

from authsome import paths
from authsome.providers.compat import read_definition_text, upgrade_legacy

BUNDLED_DIR = os.path.join(os.path.dirname(__file__), "bundled")

# A definition that mentions none of these cannot match a host it does not name.
HOST_INDEPENDENT = ('"regex:', '"templates"', "host_url")


def read_raw(path: str, mentions: str | None = None) -> dict | None:
    """A definition file as an upgraded dict; None when unreadable, or (with `mentions`,
    a lowercase host) when it cannot match that host."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    if (
        mentions is not None
        and mentions not in text.lower()
        and not any(marker in text for marker in HOST_INDEPENDENT)
    ):
        return None
    try:
        data = read_definition_text(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return upgrade_legacy(data)


# A user file that others may write is refused: it decides where the tokens are sent.
WRITABLE_BY_OTHERS = 0o022


def writable_by_others(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & WRITABLE_BY_OTHERS)
    except OSError:
        return False


def custom_files(home: str | None = None) -> dict[str, str]:
    """The user's definition files (name -> path). An empty file counts as absent: it is
    what `authsome inspect NAME > .../providers/NAME.json` reads while the shell has
    just created it, and what that command leaves if it fails."""
    out = {}
    for name, path in json_files(paths.providers_dir(home)).items():
        try:
            if os.stat(path).st_size == 0:
                continue
        except OSError:
            continue
        out[name] = path
    return out


def spelled(name: str, known) -> str | None:
    """`name` as the catalog spells it: itself, or the one known name equal to it
    ignoring case (`HubSpot` -> `hubspot`); None when neither."""
    if name in known:
        return name
    folded = [n for n in known if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def provider_raw(name: str, home: str | None = None) -> dict | None:
    """The provider's definition as a raw dict (a user file wins), or None (then the full
    loader says why: a broken or refused file)."""
    if "/" in name or name.startswith("."):
        return None
    custom = user_file(name, home)
    if custom is not None:
        return None if writable_by_others(custom) else read_raw(custom)
    return read_raw(os.path.join(BUNDLED_DIR, name + ".json"))


def user_file(name: str, home: str | None = None) -> str | None:
    """The path of the user's definition file for `name` when it counts (it exists and is
    not empty: see custom_files), else None: the bundled one is in force."""
    custom = os.path.join(paths.providers_dir(home), name + ".json")
    try:
        return custom if os.stat(custom).st_size > 0 else None
    except OSError:
        return None


def all_providers_raw(home: str | None = None, mentions: str | None = None) -> list[dict]:
    """Every provider's raw definition (user files winning), skipping unreadable ones.

    With `mentions` (a lowercase host), only definitions that could match it are parsed:
    those naming it, and those with regex or templated hosts. JSON parsing of the whole
    catalog is most of an adapter's own cost on the hot path.
    """
    custom = custom_files(home)
    names = {**json_files(BUNDLED_DIR), **custom}
    for name, path in custom.items():
        if writable_by_others(path):
            del names[name]  # refused, and not replaced by the bundled one behind the user
    out = []
    for name in sorted(names):
        data = read_raw(names[name], mentions)
        if data is not None and data.get("name") == name:
            out.append(data)
    return out


def json_files(directory: str) -> dict[str, str]:
    """Definition name -> path of each `NAME.json` in `directory` (sorted; none if absent)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return {}
    return {
        n[:-5]: os.path.join(directory, n)
        for n in sorted(names)
        if n.endswith(".json") and not n.startswith(".")
    }


def template_values(defaults: dict[str, str | None], params: dict | None) -> dict[str, str]:
    """The values that fill a connection's placeholders: defaults, then its own params."""
    values = {name: value for name, value in defaults.items() if value is not None}
    values.update(params or {})
    return values


def fill(text: str | None, values: dict[str, str]) -> str | None:
    """`text` with each {name} that has a value replaced; other placeholders stay.

    Values are checked host parts (no braces), so no replacement makes a new one.
    """
    if not text or "{" not in text:
        return text
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def fill_hosts(data: dict, params: dict | None) -> dict:
    """The raw definition with `api_url` and `git_hosts` filled for one connection.

    Entries that still hold a placeholder (no value, no default) name no host: dropped.
    """
    templates = data.get("templates")
    if not isinstance(templates, dict) or not templates:
        return data
    values = template_values(
        {k: t.get("default") for k, t in templates.items() if isinstance(t, dict)}, params
    )
    filled = dict(data)
    urls = (fill(u, values) for u in data.get("api_url") or () if isinstance(u, str))
    filled["api_url"] = [u for u in urls if "{" not in u]
    hosts = (
        {**g, "host": fill(g["host"], values)}
        for g in data.get("git_hosts") or ()
        if isinstance(g, dict) and isinstance(g.get("host"), str)
    )
    filled["git_hosts"] = [g for g in hosts if "{" not in g["host"]]
    return filled


def secret_env_var(auth_type: str | None, env: dict, api_key_env_var: str | None) -> str | None:
    """The env var that carries the usable secret (never the refresh token): `env`'s
    access_token for OAuth; for an API key, `env`'s api_key, else `api_key.env_var`."""
    if auth_type == "api_key":
        return env.get("api_key") or api_key_env_var
    return env.get("access_token")


def definition_secret_env_var(data: dict) -> str | None:
    """`secret_env_var` of a raw definition."""
    env = data.get("env") if isinstance(data.get("env"), dict) else {}
    api_key = data.get("api_key") if isinstance(data.get("api_key"), dict) else {}
    return secret_env_var(data.get("auth_type"), env, api_key.get("env_var"))
