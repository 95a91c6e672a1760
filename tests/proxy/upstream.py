"""A local HTTPS upstream for the proxy tests and benchmark.

Its certificates come from `support.pki` (a plain test CA, independent of
`authsome.proxy.ca`, the code under test).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from support.tls_servers import serve_tls


class Upstream:
    """An HTTP/1.1 keep-alive server (TLS unless `tls=None`) recording what it receives.

    Paths: /echo (JSON of the request), /sse (events; the last waits for `release`),
    /bytes?n=N (Content-Length body), /chunked?n=N, /auth (401 unless Authorization is in
    `valid`), POST /upload (sha256 and length of the body, Content-Length or chunked).
    """

    def __init__(self, tls: dict[str, Path] | None, port: int = 0):
        self.requests: list[dict] = []
        self.valid: set[str] = set()
        self.check = None  # optional callable(Authorization header) -> bool, beats `valid`
        self.release = threading.Event()
        self.sse_waited: float | None = None
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else 40 ms delayed-ACK stalls per request

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                server.connections += 1

            def do_GET(self):
                self._route()

            def do_HEAD(self):
                self._route()

            def do_POST(self):
                self._route()

            def _record(self) -> dict:
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                }
                server.requests.append(entry)
                return entry

            def _send(self, status: int, body: bytes, ctype: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _chunk(self, data: bytes):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _route(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                entry = self._record()
                if url.path == "/echo":
                    self._send(200, json.dumps(entry).encode())
                elif url.path == "/auth":
                    got = self.headers.get("Authorization")
                    ok = server.check(got) if server.check else got in server.valid
                    entry["ok"] = ok
                    body = json.dumps({"ok": ok}).encode()
                    self._send(200 if ok else 401, body if ok else b'{"error":"bad token"}')
                elif url.path == "/bytes":
                    self._bytes(int(query["n"][0]))
                elif url.path == "/chunked":
                    self._chunked(int(query["n"][0]))
                elif url.path == "/sse":
                    self._sse(int(query.get("n", ["3"])[0]))
                elif url.path == "/upload":
                    self._upload()
                else:
                    self._send(404, b"{}")

            def _bytes(self, n: int):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                block = b"x" * 65536
                while n > 0:
                    self.wfile.write(block[: min(n, len(block))])
                    n -= len(block)

            def _chunked(self, n: int):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b"y" * 65536
                while n > 0:
                    self._chunk(block[: min(n, len(block))])
                    n -= len(block)
                self.wfile.write(b"0\r\n\r\n")

            def _sse(self, n: int):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(1, n + 1):
                    if i == n:  # the last event waits until the client saw the first
                        t = time.monotonic()
                        server.release.wait(20)
                        server.sse_waited = time.monotonic() - t
                    self._chunk(f"id: {i}\ndata: event {i}\n\n".encode())
                self.wfile.write(b"0\r\n\r\n")

            def _upload(self):
                digest, size = hashlib.sha256(), 0
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        length = int(self.rfile.readline().split(b";")[0], 16)
                        if length == 0:
                            self.rfile.readline()
                            break
                        data = self.rfile.read(length)
                        self.rfile.readline()
                        digest.update(data)
                        size += len(data)
                else:
                    left = int(self.headers.get("Content-Length") or 0)
                    while left:
                        data = self.rfile.read(min(left, 65536))
                        digest.update(data)
                        size += len(data)
                        left -= len(data)
                self._send(200, json.dumps({"sha256": digest.hexdigest(), "size": size}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            serve_tls(self.httpd, tls["cert"], tls["key"])
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def headers_of(self, index: int = -1) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.requests[index]["headers"]]

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
