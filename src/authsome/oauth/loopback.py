"""The loopback HTTP server of a browser login: the client form at a secret path, the
redirect at `/auth/callback/oauth`. Bound to 127.0.0.1 only, silent logs (the callback's
query string holds the authorization code).

Any local user can reach the port, so nothing useful is served to a request that does
not prove it came from the browser we opened: `/` is empty, the client form lives at
`/client/<per-login secret>`, a request whose Host is not our address and port is
refused (DNS rebinding), and a callback without this login's `state` gets an error page
and is otherwise ignored (the login goes on waiting: a forged or stale redirect can
neither finish nor cancel it). The browser that brought the real code waits on its
callback until the code is exchanged, then shows the real outcome.
"""

from __future__ import annotations

import errno
import os
import secrets
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from authsome.errors import AuthsomeError, UsageError
from authsome.oauth import client_form, pages
from authsome.oauth.authorize import CALLBACK_PATH, CallbackResult, parse_callback
from authsome.oauth.tokens import ClientCredentials

DEFAULT_PORT = 7998
HOST = "127.0.0.1"
FORM_PREFIX = "/client/"
OUTCOME_WAIT = 120.0  # how long the browser's callback waits for the code exchange
ANSWER_GRACE = 5.0  # how long closing the server waits for that page to go out


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
    goes on to (the provider's authorize URL), or None to just say "saved".
    `form_target` is the authorization endpoint (the page's CSP lets the form lead there)."""

    def __init__(
        self,
        display_name: str,
        needs_secret: bool,
        docs_url: str | None,
        on_submit: Callable[[ClientCredentials], str | None],
        form_target: str | None = None,
    ):
        self.display_name = display_name
        self.needs_secret = needs_secret
        self.docs_url = docs_url
        self.on_submit = on_submit
        self.form_target = form_target
        self.token = secrets.token_urlsafe(32)


class LoopbackServer:
    """Serves until `result` is set; use as a context manager so the port is always freed.

    After the callback, the caller exchanges the code and calls `report` with the
    outcome: the browser's page is that outcome."""

    def __init__(
        self,
        port: int,
        state: str,
        display_name: str,
        connection: str = "default",
        form: FormSpec | None = None,
    ):
        self.port = port
        self.state = state
        self.display_name = display_name
        self.connection = connection
        self.form = form
        self.authorize_url: str | None = None
        self.client: ClientCredentials | None = None
        self.result: CallbackResult | None = None
        self.done = threading.Event()  # the callback came (result is set)
        self.client_ready = threading.Event()  # the form was submitted (client is set)
        self.outcome: tuple[int, str, str] | None = None  # the browser's (status, title, text)
        self.outcome_ready = threading.Event()
        self.answered = threading.Event()  # the callback's page went out (or gave up)
        self.lock = threading.Lock()
        self._warned = False
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
        if self.result is not None:
            # the browser waits on its callback: it must not be left with "connection reset"
            # (nor, for a refusal, a page cut off when this process exits)
            if self.result.error is None:
                self.report(False, "authsome stopped before finishing; see the terminal.")
            self.answered.wait(ANSWER_GRACE)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def form_url(self) -> str:
        """The client form: its path is the per-login secret only our browser is given."""
        assert self.form is not None
        return f"http://{HOST}:{self.port}{FORM_PREFIX}{self.form.token}"

    def finish(self, result: CallbackResult) -> bool:
        """Record the first callback; later ones are refused."""
        with self.lock:
            if self.result is not None:
                return False
            self.result = result
        self.done.set()
        return True

    def report(self, ok: bool, text: str, *, status: int = 502, title: str = "") -> None:
        """The outcome of the code exchange, for the browser waiting on its callback
        (the first report counts). A failure's page is `status` (502 by default: the
        provider's answer failed) with `title` (default "Sign-in failed")."""
        if ok:
            status, title = 200, f"Signed in to {self.display_name}"
        with self.lock:
            if self.outcome is None:
                self.outcome = (status, title or "Sign-in failed", text)
        self.outcome_ready.set()

    def stray_callback(self) -> None:
        """Say once on the terminal that a callback without our state was ignored."""
        with self.lock:
            if self._warned:
                return
            self._warned = True
        clear = "\r\x1b[2K" if sys.stderr.isatty() else ""  # over the status line
        print(
            f"{clear}authsome: ignored a sign-in answer that did not carry this login's state "
            "(a stale tab or a forged redirect); still waiting for yours",
            file=sys.stderr,
            flush=True,
        )


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

    def _form_spec(self, path: str) -> FormSpec | None:
        """The form, if `path` is its secret path (constant-time) and it is still open."""
        form = self.server.owner.form
        if form is None or self.server.owner.client is not None:
            return None
        if not path.startswith(FORM_PREFIX):
            return None
        sent = path[len(FORM_PREFIX) :].encode()
        return form if secrets.compare_digest(sent, form.token.encode()) else None

    def do_GET(self) -> None:
        owner = self.server.owner
        if not client_form.host_ok(self.headers.get("Host"), owner.port):
            return self._page(421, "Wrong host", "Open this page at 127.0.0.1.", True, False)
        url = urlsplit(self.path)
        if url.path == CALLBACK_PATH:
            return self._callback(owner, url.query)
        form = self._form_spec(url.path)
        if form is not None:
            return self._form(owner, form, None, 200)
        self._page(404, "Not found", "Nothing here.", True, False)

    def do_POST(self) -> None:
        owner = self.server.owner
        form = self._form_spec(urlsplit(self.path).path)
        if form is None:
            return self._page(404, "Not found", "Nothing here.", True, False)
        port = owner.port
        if not client_form.host_ok(self.headers.get("Host"), port) or not client_form.origin_ok(
            self.headers.get("Origin"), port
        ):
            text = "This form only accepts posts from its own page."
            return self._page(403, "Refused", text, error=True)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:  # int() would raise in the handler thread (a traceback on the terminal)
            return self._page(400, "Refused", "Bad Content-Length.", error=True)
        if length > client_form.MAX_BODY:
            return self._page(413, "Refused", "Form too large.", error=True)
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
            return self._page(exc.status, "Refused", str(exc), error=True)
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
        if result.error is not None and result.error.error == "state_mismatch":
            owner.stray_callback()
            text = (
                "This answer does not belong to the sign-in authsome is waiting for "
                "(a stale tab, or a link from someone else). It was ignored."
            )
            return self._page(400, "Not this sign-in", text, True, False)
        if not owner.finish(result):
            text = "This sign-in was already answered."
            return self._page(400, "Already finished", text, True, False)
        if result.error is not None:
            text = f"{result.error} You can close this tab."
            try:
                return self._page(400, "Sign-in failed", text, error=True)
            finally:
                owner.answered.set()
        try:
            owner.outcome_ready.wait(OUTCOME_WAIT)
            late = (502, "Sign-in failed", "authsome did not finish in time; see the terminal.")
            status, title, text = owner.outcome or late
            self._page(status, title, text, error=status != 200)
        finally:
            owner.answered.set()

    def _form(self, owner: LoopbackServer, form: FormSpec, message: str | None, status: int):
        from authsome.oauth.authorize import redirect_uri

        body = client_form.render(
            display_name=form.display_name,
            connection=owner.connection,
            redirect=redirect_uri(owner.port),
            token=form.token,
            needs_secret=form.needs_secret,
            docs_url=form.docs_url,
            message=message,
        )
        self._send(status, body, pages.csp(form.form_target))

    def _page(
        self, status: int, title: str, text: str, error: bool = False, named: bool = True
    ) -> None:
        """A short page; `named` pages say which login they belong to, the others (what
        any local client may be shown) do not."""
        owner = self.server.owner
        who = (owner.display_name, owner.connection) if named else None
        body = pages.message(title, text, who, error)
        self._send(status, body, pages.csp())

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _send(self, status: int, body: bytes, policy: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # The page must not be framed or read by another origin, nor load anything.
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", policy)
        # same-origin, not no-referrer: with no-referrer Chromium posts the form with
        # `Origin: null`, which the form must refuse; other sites still get no referrer.
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)
