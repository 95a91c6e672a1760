"""Quoting a value as one word for a POSIX shell (bash, zsh, and `eval` of `export`).

Import-free: the shell hook's worker quotes with it on every directory entry.
"""

from __future__ import annotations


def posix_quote(value: str) -> str:
    """Single quotes: nothing inside is special but the quote itself.

    Written as '...'\\''...' with no empty '' pieces, so zsh's RC_QUOTES cannot merge
    two quotes into a literal one.
    """
    parts = value.split("'")
    return "\\'".join(f"'{p}'" if p else "" for p in parts) or "''"
