"""Printing for the CLI: tables for people, JSON for programs, colour only on a terminal."""

from __future__ import annotations

import json
import os
import sys

from authsome.terminal import json_safe, visible

__all__ = ["visible"]  # the one function for text from outside: see authsome.terminal


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb" and stream.isatty()


def paint(text: str, code: str, stream=None) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if use_color(stream) else text


STATUS_COLORS = {"connected": "32", "expired": "33", "revoked": "31", "not_connected": "2"}


def status(text: str) -> str:
    return paint(text, STATUS_COLORS.get(text, "0"))


def print_json(data: object) -> None:
    sys.stdout.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def table(rows: list[list[str]], headers: list[str]) -> None:
    """A plain aligned table; colour codes do not count towards the width."""
    import re

    strip = re.compile(r"\x1b\[[0-9;]*m")
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(strip.sub("", cell)))
    lines = [headers, *rows]
    for n, row in enumerate(lines):
        cells = []
        for i, cell in enumerate(row):
            pad = widths[i] - len(strip.sub("", cell))
            cells.append(cell + " " * pad if i < len(row) - 1 else cell)
        line = "  ".join(cells)
        print(paint(line, "1") if n == 0 else line)


def warn(message: str) -> None:
    print(f"authsome: warning: {visible(message)}", file=sys.stderr)


def warn_unknown_keys(registry, provider) -> None:
    """The unknown-key lines of the user file `provider` came from (none for a bundled
    one): every command that reads one definition says them, as `list` does for all."""
    for line in registry.warnings([provider.name]).get(provider.path or "", []):
        warn(line)


def provider_name(name: str) -> str:
    """The catalog's spelling of a provider typed in another case (`HubSpot` -> `hubspot`)
    when exactly one matches; otherwise `name` as typed (the command says what is wrong,
    with the nearest name). A directory listing only: no definition is parsed."""
    from authsome import paths
    from authsome.providers.rules import BUNDLED_DIR, custom_files, json_files, spelled

    known = set(json_files(BUNDLED_DIR)) | set(custom_files(paths.home()))
    return spelled(name, known) or name


def add_connection(parser, help_text: str = "the connection name (default: default)") -> None:
    parser.add_argument("--connection", "-c", default="default", metavar="NAME", help=help_text)


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
