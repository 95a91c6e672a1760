"""Read provider files written for the original authsome with the same meaning.

The original used `host_url` for the API host and an `export` map of env var names;
both translate to this schema's `api_url` and `env`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the hot path


if TYPE_CHECKING:
    from typing import Any


def read_definition_text(text: str) -> Any:
    """Parse a definition file: JSON, allowing whole-line `//` comments (the original's format)."""
    from authsome.protocol import jsonlite

    if "\n//" in text or text.lstrip().startswith("//") or "\n //" in text or "\t//" in text:
        text = "\n".join(
            "" if line.lstrip().startswith("//") else line for line in text.splitlines()
        )
    return jsonlite.loads(text)


def upgrade_legacy(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data.setdefault("schema_version", 1)
    host_url = data.pop("host_url", None)
    if host_url and "api_url" not in data:
        data["api_url"] = [host_url] if isinstance(host_url, str) else host_url
    if isinstance(data.get("api_url"), str):
        data["api_url"] = [data["api_url"]]
    export = data.pop("export", None)
    if isinstance(export, dict) and "env" not in data:
        data["env"] = {k: v for k, v in export.items() if isinstance(v, str)}
    if "display_name" not in data and isinstance(data.get("name"), str):
        data["display_name"] = data["name"]
    if "flow" not in data and data.get("auth_type") == "api_key":
        data["flow"] = "api_key"
    return data
