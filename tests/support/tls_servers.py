"""Loopback TLS servers for tests: `serve_tls` puts any http.server behind TLS with a
leaf from `support.pki`, and `GitServer` is the real `git http-backend` over smart HTTP
that demands credentials (used by the adapter and proxy tests)."""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import BaseServer

GIT_BACKEND = "/usr/lib/git-core/git-http-backend"


def serve_tls(httpd: BaseServer, cert: Path, key: Path) -> None:
    """Wrap the (not yet serving) server's listening socket in TLS with this leaf."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)


class GitServer:
    """Smart HTTP over TLS; a request passes when its Authorization is accepted.

    `accept[(repo, username)] = password` for Basic (repo None = any repo on the host);
    `bearer` holds tokens accepted as `Authorization: Bearer`. `seen` records
    (repo, scheme, username) for each request that passed.
    """

    def __init__(self, root: Path, cert: Path, key: Path):
        self.root = root
        self.accept: dict[tuple[str | None, str], str] = {}
        self.bearer: set[str] = set()
        self.seen: list[tuple[str, str, str | None]] = []
        self.denied = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def _serve(self):
                path, _, query = self.path.partition("?")
                repo = path.lstrip("/").split("/", 1)[0]
                who = server.authorize(repo, self.headers.get("Authorization"))
                if who is None:
                    server.denied += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server.seen.append((repo, *who))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": who[1] or "bearer",
                    "REMOTE_ADDR": "127.0.0.1",
                }
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                out = subprocess.run(
                    [GIT_BACKEND], input=body, env=env, capture_output=True, check=False
                ).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.split(b"\r\n"):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve_tls(self.httpd, cert, key)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def authorize(self, repo: str, header: str | None) -> tuple[str, str | None] | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return ("bearer", None) if value in self.bearer else None
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        for key in ((repo, user), (None, user)):
            if self.accept.get(key) == password:
                return ("basic", user)
        return None

    def url(self, repo: str, user: str | None = None, host: str = "127.0.0.1") -> str:
        at = f"{user}@" if user else ""
        return f"https://{at}{host}:{self.port}/{repo}"

    def add_repo(self, name: str) -> None:
        """A bare repository with one commit (a README naming the repo)."""
        bare = self.root / name
        work = self.root.parent / f"src-{name}"
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        (work / "README").write_text(name)
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        }
        for cmd in (
            ["add", "README"],
            ["commit", "-qm", "init"],
            ["push", "-q", str(bare), "HEAD"],
        ):
            subprocess.run(["git", "-C", str(work), *cmd], check=True, env=env)

    def __enter__(self) -> GitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
