"""Fixtures for the adapter tests: a test CA, a git smart-HTTP server over TLS on
127.0.0.1 (the real `git http-backend` behind http.server + ssl) that demands
credentials, an isolated git environment, and provider definitions that point at it.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.cli import tool

GIT_BACKEND = "/usr/lib/git-core/git-http-backend"


def _cert_pair(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a leaf for 127.0.0.1/localhost; returns (ca.pem, leaf.pem, leaf.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authsome adapters test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, leaf_pem, key_pem = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, leaf_pem, key_pem


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
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
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


@pytest.fixture
def tls(tmp_path) -> dict[str, Path]:
    ca, cert, key = _cert_pair(tmp_path)
    return {"ca": ca, "cert": cert, "key": key}


@pytest.fixture
def git_server(tmp_path, tls):
    root = tmp_path / "repos"
    root.mkdir()
    with GitServer(root, tls["cert"], tls["key"]) as server:
        yield server


@pytest.fixture
def git_env(home, tmp_path, tls, monkeypatch) -> dict[str, str]:
    """Environment for real git: isolated config, our helper as the only helper, no tty."""
    git_home = tmp_path / "git-home"
    git_home.mkdir()
    (git_home / ".gitconfig").write_text(
        f"[credential]\n\thelper = {tool('git-credential-authsome')}\n[protocol]\n\tversion = 2\n"
    )
    env = dict(os.environ)
    env.update(
        HOME=str(git_home),
        XDG_CONFIG_HOME=str(git_home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_SSL_CAINFO=str(tls["ca"]),
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
    )
    env.pop("GIT_CONFIG_GLOBAL", None)
    return env


def write_provider(home: Path, name: str, **fields) -> Path:
    """A minimal OAuth provider definition in $AUTHSOME_HOME/providers/<name>.json."""
    definition = {
        "schema_version": 1,
        "name": name,
        "display_name": name.title(),
        "description": "adapter test provider",
        "auth_type": "oauth2",
        "flow": "pkce",
        "api_url": [],
        "oauth": {
            "authorization_url": "https://auth.example.test/authorize",
            "token_url": "https://auth.example.test/token",
            "scopes": ["read"],
            "pkce": True,
        },
        "api_key": None,
        "env": {"access_token": name.upper() + "_TOKEN"},
        "git_hosts": [],
    }
    definition.update(fields)
    folder = home / "providers"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(definition))
    path.chmod(0o600)
    return path
