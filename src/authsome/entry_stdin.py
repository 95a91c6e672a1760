"""How each helper entry point reads stdin: one definition, shared by the entry points
and the agent client (which must read exactly what the entry point would, then replay it).

Import-light: `sys` only.
"""

from __future__ import annotations

import sys

STDIN_MAX = 1 << 20


def read_json_input() -> bytes:
    """authsome-helper: everything (bounded; one byte over marks "too large"), unless a TTY."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return b""
    try:
        if stdin.isatty():
            return b""
        return stdin.buffer.read(STDIN_MAX + 1)
    except (OSError, ValueError):
        return b""


def read_lines(stream, limit: int = STDIN_MAX) -> bytes:
    """git's input: lines up to a blank line or EOF (bounded)."""
    chunks, total = [], 0
    while total <= limit:
        line = stream.readline(limit)
        if not line:
            break
        chunks.append(line)
        total += len(line)
        if line in (b"\n", b"\r\n"):
            break
    return b"".join(chunks)
