"""What may reach a terminal: text from outside (servers, files, the shared vault) shown
with its control characters made visible.

A terminal acts on C0 controls (ESC starts sequences that retitle the window, write the
clipboard with OSC 52, or redraw the screen), DEL, and C1 controls (U+0080-U+009F; CSI
is U+009B). `visible()` replaces each with a printable escape (`\\x1b`, `\\n`), so a
hostile `user_code`, scope, audit row or file name is shown, never obeyed.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}")


def visible(text: object) -> str:
    """`text` (str() of it) on one line, every control character written as an escape."""
    return _CONTROL.sub(_escape, str(text))


def json_safe(dumped: str) -> str:
    """A JSON document with C1 controls escaped too (json.dumps leaves them raw with
    ensure_ascii=False; C0 it already escapes). Still the same JSON value."""
    return re.sub(r"[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", dumped)
