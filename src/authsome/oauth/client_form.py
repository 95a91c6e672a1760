"""The local page that collects a provider's client id and secret: sans-IO.

Only the browser we opened may see or post it: it lives at a path carrying a per-login
random token that only the URL given to that browser holds, the post must carry the
same token in a hidden field (compared in constant time), the Host header must name our
loopback address and port (against DNS rebinding) and an Origin header, when the
browser sends one, must be ours.
"""

from __future__ import annotations

import hmac
from html import escape
from urllib.parse import parse_qs

from authsome.oauth import pages
from authsome.oauth.tokens import ClientCredentials

MAX_BODY = 16 * 1024


class FormRejected(Exception):
    """A submission we refuse; the message is shown on the page (no secret in it)."""

    def __init__(self, message: str, status: int = 400):
        self.status = status
        super().__init__(message)


def allowed_hosts(port: int) -> tuple[str, ...]:
    """The Host a request to our server may carry: the loopback address and port we
    listen on, exactly (anything else is DNS rebinding or a stray request)."""
    return (f"127.0.0.1:{port}",)


def host_ok(host: str | None, port: int) -> bool:
    return (host or "").lower() in allowed_hosts(port)


def origin_ok(origin: str | None, port: int) -> bool:
    """No Origin (non-browser client) is fine: the token still has to match."""
    if origin is None:
        return True
    return origin.lower() in tuple(f"http://{h}" for h in allowed_hosts(port))


def render(
    *,
    display_name: str,
    connection: str,
    redirect: str,
    token: str,
    needs_secret: bool,
    docs_url: str | None = None,
    message: str | None = None,
) -> bytes:
    """The form page (UTF-8 HTML). It posts back to the secret path it was served at."""
    secret_label = "Client secret" + ("" if needs_secret else " (if your app has one)")
    required = " required" if needs_secret else ""
    docs = (
        f'<p>How to create one: <a href="{escape(docs_url)}">{escape(docs_url)}</a></p>'
        if docs_url
        else ""
    )
    notice = f'<p class="error">{escape(message)}</p>' if message else ""
    name = escape(display_name)
    body = f"""<p>authsome needs the OAuth app (client) you registered with {name}.
Register this redirect URI with it:</p>
<p><code>{escape(redirect)}</code></p>{docs}{notice}
<form method="post" action="" autocomplete="off">
<input type="hidden" name="form_token" value="{escape(token)}">
<label>Client ID<input name="client_id" required></label>
<label>{secret_label}<input name="client_secret" type="password"{required}></label>
<p><button type="submit">Continue to {name}</button></p>
</form>
<p>They are stored encrypted in your local authsome vault and reused on later logins.</p>"""
    return pages.document(f"Connect {display_name}", body, (display_name, connection))


def parse_submission(
    body: bytes, *, content_type: str | None, token: str, needs_secret: bool
) -> ClientCredentials:
    """Check the token and the fields; FormRejected on any problem."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise FormRejected("unexpected form encoding", status=415)
    if len(body) > MAX_BODY:
        raise FormRejected("form too large", status=413)
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    sent = fields.get("form_token", "")
    if not hmac.compare_digest(sent.encode(), token.encode()):
        raise FormRejected("this form has expired or did not come from authsome", status=403)
    client_id = fields.get("client_id", "").strip()
    secret = fields.get("client_secret", "").strip() or None
    if not client_id:
        raise FormRejected("the client ID is required")
    if needs_secret and not secret:
        raise FormRejected("this provider needs the client secret too")
    return ClientCredentials(client_id=client_id, client_secret=secret)
