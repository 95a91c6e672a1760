"""A CONNECT proxy that reaches test names (mcp.example.test) on 127.0.0.1.

`authsome run` children reach such names with `--resolve`; a plain `authsome login`
has no such option, so its tests set HTTPS_PROXY to this proxy, as a user behind a
corporate proxy would. Anything but a CONNECT to one of `names` is refused.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading


class NameProxy:
    def __init__(self, names: set[str]) -> None:
        self.names = {n.lower() for n in names}
        self.tunnels: list[str] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handle(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                return
            head += data
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or host.lower() not in self.names:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.tunnels.append(target)
        with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as up:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(client, up)

    def __enter__(self) -> NameProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _relay(a: socket.socket, b: socket.socket) -> None:
    peers = {a: b, b: a}
    while True:
        ready, _, _ = select.select(list(peers), [], [], 30)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)
