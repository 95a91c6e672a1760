"""The pages a browser login shows (outcome pages, and the headers of every page): sans-IO.

Each page says which provider and connection it belongs to, loads nothing (no script,
image, font or stylesheet from anywhere; the only style is inline), and says so to the
browser in its Content-Security-Policy. A form may be sent only to this page's own
origin, and on to the provider's authorization endpoint (where its redirect leads).
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

STYLE = (
    "body{font:16px system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}"
    "label{display:block;margin-top:1em}input{width:100%;padding:.4em;font:inherit}"
    "code{background:#eee;padding:.1em .3em}.error{color:#b00}.who{color:#555}"
)


def csp(form_target: str | None = None) -> str:
    """The policy: nothing loaded from anywhere; forms only to ourselves (and `form_target`'s
    origin, the authorization endpoint a submitted form redirects to)."""
    targets = "'self'"
    origin = _origin(form_target) if form_target else None
    if origin:
        targets += f" {origin}"
    return (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        f"form-action {targets}; frame-ancestors 'none'"
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def who(display_name: str, connection: str) -> str:
    """The line naming the login a page belongs to."""
    return (
        f'<p class="who">authsome login: {escape(display_name)}, '
        f"connection <b>{escape(connection)}</b></p>"
    )


def document(title: str, body: str, login: tuple[str, str] | None) -> bytes:
    """A whole page: `body` is HTML already escaped; `login` (provider display name,
    connection) is named at the top when given."""
    named = who(*login) if login else ""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>authsome: {escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>{named}<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    ).encode()


def message(title: str, text: str, login: tuple[str, str] | None, error: bool = False) -> bytes:
    cls = ' class="error"' if error else ""
    return document(title, f"<p{cls}>{escape(text)}</p>", login)
