"""WebSockets through an intercepted host: the handshake carries the real token, then
frames flow both ways (OpenAI's Realtime API and Slack's socket mode work this way).

Server and client are the `websockets` library: the child connects through the proxy
from its environment (HTTPS_PROXY, SSL_CERT_FILE), as any program would.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading

import pytest

from proxy.conftest import API_HOST, TOKEN, resolve_args
from support.cli import tool

websockets_sync = pytest.importorskip("websockets.sync.server")

PY = sys.executable

CHILD = r"""
import sys
from websockets.sync.client import connect
with connect(sys.argv[1], additional_headers={"Authorization": "Bearer authsome-proxy-managed"},
             open_timeout=20) as ws:
    ws.send("auth?")
    print(ws.recv(timeout=20), flush=True)
    for i in range(3):
        ws.send(f"ping {i}")
        print(ws.recv(timeout=20), flush=True)
    ws.send(b"\x00" * 200_000)  # one large binary message, both ways
    print(len(ws.recv(timeout=20)), flush=True)
"""


@pytest.fixture
def ws_upstream(pki):
    """A TLS WebSocket echo server; answers "auth?" with the Authorization it was sent."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki["cert"], pki["key"])

    def handler(ws):
        auth = ws.request.headers.get("Authorization", "")
        for message in ws:
            ws.send(auth if message == "auth?" else message)

    with websockets_sync.serve(handler, "127.0.0.1", 0, ssl=ctx) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.socket.getsockname()[1]
        server.shutdown()


def test_websocket_gets_the_token_and_frames_both_ways(vault, ws_upstream, mode):
    url = f"wss://{API_HOST}:{ws_upstream}/v1/realtime"
    res = subprocess.run(
        [tool("authsome"), "run", *mode, *resolve_args(ws_upstream), "--", PY, "-c", CHILD, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    # the real token (the child's placeholder replaced, not duplicated), then echoes
    assert res.stdout.splitlines() == [f"Bearer {TOKEN}", "ping 0", "ping 1", "ping 2", "200000"]
    assert TOKEN not in res.stderr
