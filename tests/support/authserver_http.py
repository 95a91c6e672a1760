"""The HTTP face of the test authorization server: stdlib http.server, one thread a request.

Parses the request into authlib's shape and hands it to AuthServer.handle().
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from support.authserver_backend import FormRequest, JsonBodyRequest


def make_handler(auth: Any) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to one AuthServer."""
    return type("Handler", (_Handler,), {"auth": auth})


class _Handler(BaseHTTPRequestHandler):
    auth: Any  # the AuthServer (not imported: it imports us)
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; tests read AuthServer.requests instead

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        uri = self.auth.base_url + self.path
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        req: Any
        if url.path == "/register":
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                data = {}
            req = JsonBodyRequest(
                self.command, uri, self.headers, data if isinstance(data, dict) else {}
            )
        else:
            quirks = self.auth.quirks
            json_only = "json_body" in quirks or (url.path == "/revoke" and "json_revoke" in quirks)
            form = _fields(raw, ctype, json_only)
            req = FormRequest(self.command, uri, self.headers, query, form)
        try:
            status, body, content_type, headers = self.auth.handle(self.command, url.path, req)
        except Exception as exc:  # a bug here must show up as a 500, not a hung client
            status, content_type, headers = 500, "text/plain", []
            body = f"{type(exc).__name__}: {exc}".encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _serve


def _fields(raw: bytes, ctype: str, json_body: bool) -> list[tuple[str, str]]:
    """The request's parameters: a form, or (for a server with the `json_body` quirk) only
    a JSON object of strings; the other kind reads as no parameters at all."""
    if not json_body:
        if ctype != "application/x-www-form-urlencoded":
            return []
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    if ctype != "application/json":
        return []
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    return [(k, v) for k, v in data.items() if isinstance(v, str)]
