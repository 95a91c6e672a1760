"""The loopback HTTP server of a browser login: the client form at `/`, the redirect at
`/auth/callback/oauth`. Bound to 127.0.0.1 only, one callback per login, silent logs
(the callback's query string holds the authorization code).
"""

from __future__ import annotations

import errno
import os
import secrets
import threading
from collections.abc import Callable
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from authsome.errors import AuthsomeError, UsageError
from authsome.oauth import client_form
from authsome.oauth.authorize import CALLBACK_PATH, CallbackResult, parse_callback
from authsome.oauth.tokens import ClientCredentials

DEFAULT_PORT = 7998
HOST = "127.0.0.1"
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; "
    "frame-ancestors 'none'"
)


def callback_port() -> int:
    raw = os.environ.get("AUTHSOME_CALLBACK_PORT")
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port <= 65535:
        raise UsageError(f"AUTHSOME_CALLBACK_PORT must be a port number (1-65535), not {raw!r}")
    return port


class FormSpec:
    """What the client form needs; `on_submit` turns the client into the URL the browser
    goes on to (the provider's authorize URL), or None to just say "saved"."""

    def __init__(
        self,
        display_name: str,
        needs_secret: bool,
        docs_url: str | None,
        on_submit: Callable[[ClientCredentials], str | None],
    ):
        self.display_name = display_name
        self.needs_secret = needs_secret
        self.docs_url = docs_url
        self.on_submit = on_submit
        self.token = secrets.token_urlsafe(32)


class LoopbackServer:
    """Serves until `result` is set; use as a context manager so the port is always freed."""

    def __init__(self, port: int, state: str, display_name: str, form: FormSpec | None = None):
        self.port = port
        self.state = state
        self.display_name = display_name
        self.form = form
        self.authorize_url: str | None = None
        self.client: ClientCredentials | None = None
        self.result: CallbackResult | None = None
        self.done = threading.Event()  # the callback came (result is set)
        self.client_ready = threading.Event()  # the form was submitted (client is set)
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LoopbackServer:
        try:
            self._httpd = _Server((HOST, self.port), _Handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise AuthsomeError(
                    f"cannot listen on {HOST}:{self.port}: the port is busy "
                    "(another login running?). Stop it, or set AUTHSOME_CALLBACK_PORT to a "
                    "free port and register that redirect URI with the provider"
                )
            raise AuthsomeError(f"cannot listen on {HOST}:{self.port}: {exc.strerror}")
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def finish(self, result: CallbackResult) -> bool:
        """Record the first callback; later ones are refused."""
        with self.lock:
            if self.result is not None:
                return False
            self.result = result
        self.done.set()
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # TIME_WAIT from the last login must not block this one
    owner: LoopbackServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "authsome"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the request line carries the authorization code."""

    def do_GET(self) -> None:
        owner = self.server.owner
        if not client_form.host_ok(self.headers.get("Host"), owner.port):
            return self._page(421, "Wrong host", "Open this page at 127.0.0.1.")
        url = urlsplit(self.path)
        if url.path == CALLBACK_PATH:
            return self._callback(owner, url.query)
        if url.path == "/":
            form = owner.form
            if form is not None and owner.client is None:
                return self._form(owner, form, None, 200)
            if owner.authorize_url:
                return self._redirect(owner.authorize_url)
        return self._page(404, "Not found", "Nothing here.")

    def do_POST(self) -> None:
        owner = self.server.owner
        form = owner.form
        if urlsplit(self.path).path != "/" or form is None:
            return self._page(404, "Not found", "Nothing here.")
        port = owner.port
        if not client_form.host_ok(self.headers.get("Host"), port) or not client_form.origin_ok(
            self.headers.get("Origin"), port
        ):
            return self._page(403, "Refused", "This form only accepts posts from its own page.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:  # int() would raise in the handler thread (a traceback on the terminal)
            return self._page(400, "Refused", "Bad Content-Length.")
        if length > client_form.MAX_BODY:
            return self._page(413, "Refused", "Form too large.")
        body = self.rfile.read(length)
        try:
            creds = client_form.parse_submission(
                body,
                content_type=self.headers.get("Content-Type"),
                token=form.token,
                needs_secret=form.needs_secret,
            )
        except client_form.FormRejected as exc:
            if exc.status == 400:
                return self._form(owner, form, str(exc), 400)
            return self._page(exc.status, "Refused", str(exc))
        with owner.lock:
            if owner.client is not None:
                return self._page(409, "Already submitted", "Return to the terminal.")
            owner.client = creds
        owner.authorize_url = form.on_submit(creds)
        owner.client_ready.set()
        if owner.authorize_url:
            return self._redirect(owner.authorize_url)
        self._page(200, "Saved", "authsome has the client. Return to the terminal.")

    def _callback(self, owner: LoopbackServer, query: str) -> None:
        result = parse_callback(query, owner.state)
        if not owner.finish(result):
            return self._page(400, "Already finished", "This sign-in was already answered.")
        if result.error is not None:
            return self._page(400, "Sign-in failed", f"{result.error} You can close this tab.")
        self._page(
            200,
            f"Signed in to {owner.display_name}",
            "authsome got the answer. You can close this tab and return to the terminal.",
        )

    def _form(self, owner: LoopbackServer, form: FormSpec, message: str | None, status: int):
        from authsome.oauth.authorize import redirect_uri

        body = client_form.render(
            display_name=form.display_name,
            redirect=redirect_uri(owner.port),
            token=form.token,
            needs_secret=form.needs_secret,
            docs_url=form.docs_url,
            message=message,
        )
        self._send(status, body)

    def _page(self, status: int, title: str, text: str) -> None:
        body = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f'</title></head><body style="font:16px system-ui,sans-serif;margin:3em">'
            f"<h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>\n"
        ).encode()
        self._send(status, body)

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # The page must not be framed or read by another origin.
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)
