"""Two machines on one shared vault: refresh single-flight across them, and a refresh lock
whose holder is SIGKILLed mid-refresh. The authorization server rotates refresh tokens
and revokes the whole family when a spent one comes back, so any double refresh shows."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials
from authsome.vault import backends
from postgres.conftest import new_key
from postgres.machines import Machine, wait_for

SECRET = "team-client-secret-0451"
PROVIDER = "teamapp"


@pytest.fixture
def team(tmp_path, pg_url, auth_server, monkeypatch):
    """Machines A and B: separate homes, the same key and shared vault URL."""
    backends.postgres(pg_url).init_schema()
    key = new_key()
    a = Machine(tmp_path / "machine-a", key, pg_url)
    b = Machine(tmp_path / "machine-b", key, pg_url)
    for name, value in a.env.items():
        if name.startswith("AUTHSOME_"):
            monkeypatch.setenv(name, value)  # this test process acts as machine A
    auth_server.register_client(PROVIDER, SECRET, redirect_uris=["http://127.0.0.1/cb"])
    return a, b


def seed(auth_server, machines, token_url: str | None = None) -> dict:
    """The provider on every machine, its client and an expired token in the shared vault."""
    for m in machines:
        path = auth_server.write_provider(m.home, PROVIDER)
        if token_url:
            definition = json.loads(path.read_text())
            definition["oauth"]["token_url"] = token_url
            path.write_text(json.dumps(definition))
    CredentialService().store_client(PROVIDER, ClientCredentials(PROVIDER, SECRET))
    minted = auth_server.issue_tokens(PROVIDER, "read")
    machines[0].store_token(PROVIDER, minted["access_token"], minted["refresh_token"], -10)
    return minted


def audit_events(url: str, event: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        q = "SELECT count(*) FROM authsome.audit WHERE event = %s"
        return conn.execute(q, (event,)).fetchone()[0]


def test_sixteen_processes_on_two_machines_refresh_once(team, auth_server, pg_url, tmp_path):
    a, b = team
    minted = seed(auth_server, [a, b])
    gate = tmp_path / "go"
    procs = [m.at_gate(gate, "authsome-helper", "get", PROVIDER) for m in (a, b) for _ in range(8)]
    time.sleep(1.0)  # every interpreter waits at the gate
    gate.write_text("")
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    assert [r[2] for r in results] == [0] * 16, [r[1] for r in results]
    tokens = {json.loads(r[0])["access_token"] for r in results}
    assert len(tokens) == 1 and minted["access_token"] not in tokens
    assert auth_server.counts["token:refresh_token"] == 1
    assert auth_server.revoked_families() == 0
    assert auth_server.is_active(tokens.pop())
    # the team's audit trail: one refresh, sixteen reads, whichever machine did them
    assert audit_events(pg_url, "refresh") == 1
    assert audit_events(pg_url, "read") == 16


class StallingTokenEndpoint:
    """A token endpoint in front of the real one that swallows the FIRST request (never
    forwarding it, so that refresh token stays unspent) and relays every later one."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.first = True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.first:
                    proxy.first = False
                    proxy.stalled.set()
                    proxy.release.wait(30)
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "authorization", "accept")
                }
                req = urllib.request.Request(proxy.upstream, body, headers, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        status, data, ctype = resp.status, resp.read(), resp.headers
                except urllib.error.HTTPError as err:
                    status, data, ctype = err.code, err.read(), err.headers
                self.send_response(status)
                self.send_header("Content-Type", ctype.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sigkill_of_the_refresh_lock_holder_lets_another_machine_refresh(team, auth_server, pg_url):
    a, b = team
    endpoint = StallingTokenEndpoint(auth_server.token_url)
    try:
        minted = seed(auth_server, [a, b], token_url=endpoint.url)
        holder = a.start("authsome-helper", "get", PROVIDER)
        assert endpoint.stalled.wait(20), "machine A never reached the token endpoint"
        waiter = b.start("authsome-helper", "get", PROVIDER)
        time.sleep(1.0)
        assert waiter.poll() is None  # machine B queues behind A's lock
        assert auth_server.counts["token:refresh_token"] == 0
        killed_at = time.monotonic()
        os.killpg(holder.pid, signal.SIGKILL)  # A dies holding the lock, mid-refresh
        holder.wait(10)
        out, err = waiter.communicate(timeout=15)
        elapsed = time.monotonic() - killed_at
    finally:
        endpoint.close()
    assert waiter.returncode == 0, err
    # At once, not after the server's TCP keepalive gives up on A (10 + 3 x 5 = 25 s) or
    # B's lock wait (120 s); 15 s leaves room for a loaded two-core CI machine.
    assert elapsed < 15, f"machine B took {elapsed:.1f}s after the kill"
    token = json.loads(out)["access_token"]
    assert token != minted["access_token"] and auth_server.is_active(token)
    assert auth_server.counts["token:refresh_token"] == 1
    assert auth_server.revoked_families() == 0
    # A's next run finds the token B stored, without another refresh
    res = a.run("authsome-helper", "get", PROVIDER)
    assert res.returncode == 0 and json.loads(res.stdout)["access_token"] == token
    assert auth_server.counts["token:refresh_token"] == 1
    assert wait_for(lambda: audit_events(pg_url, "refresh") == 1, 2)
