"""Write a custom provider definition where the registry looks for it."""

from __future__ import annotations

import json
from pathlib import Path


def write_definition(home: Path, definition: dict, indent: int | None = None) -> Path:
    """$AUTHSOME_HOME/providers/<name>.json (folder 0700, file 0600); returns its path."""
    folder = home / "providers"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{definition['name']}.json"
    path.write_text(json.dumps(definition, indent=indent))
    path.chmod(0o600)
    return path
