"""Environment variable formats for `authsome export`: pure functions, safely quoted."""

from __future__ import annotations

import json
import re

from authsome.protocol.shellquote import posix_quote

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FORMATS = ("env", "shell", "dotenv", "json")


def dotenv_quote(value: str) -> str:
    if "'" not in value and "\n" not in value:
        return "'" + value + "'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    # `$` and a backquote would expand when a shell sources the file (`set -a; . ./.env`)
    escaped = escaped.replace("$", "\\$").replace("`", "\\`")
    return '"' + escaped + '"'


def render(variables: dict[str, str], fmt: str) -> str:
    for name in variables:
        if not ENV_NAME.match(name):
            raise ValueError(f"'{name}' is not an environment variable name")
    if fmt in ("env", "shell"):
        return "".join(f"export {k}={posix_quote(v)}\n" for k, v in variables.items())
    if fmt == "dotenv":
        return "".join(f"{k}={dotenv_quote(v)}\n" for k, v in variables.items())
    if fmt == "json":
        return json.dumps(variables, indent=2) + "\n"
    raise ValueError(f"unknown format '{fmt}'")
