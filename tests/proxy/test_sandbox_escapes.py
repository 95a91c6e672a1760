"""`authsome run --sandbox`: roads out of the sandbox beyond the hostile child's list
(test_sandbox.py), each tried from inside with real bubblewrap.

All traffic is on loopback: the host services a child must not reach listen on the
host's loopback; the proxy must refuse before it connects.
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading

import pytest

from proxy.conftest import authsome_run

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("bwrap") is None,
    reason="needs Linux and bubblewrap (.ci/run installs it)",
)


class HostService:
    """A TCP server on the host's loopback (IPv4 and IPv6) that counts who came: a
    local database or model server the sandbox must keep its child away from."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.sendall(b"host service\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


# Through the run's own proxy (HTTPS_PROXY inside): CONNECT and absolute-form http://
# to every spelling of this machine the child might try; prints each status line.
THROUGH_THE_PROXY = r"""
import os, socket, sys
from urllib.parse import urlsplit
proxy = urlsplit(os.environ["HTTPS_PROXY"])
auth = __import__("base64").b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
port = sys.argv[1]
def ask(head):
    with socket.create_connection((proxy.hostname, proxy.port), timeout=20) as s:
        s.sendall(head.encode() + f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        return s.recv(4096).split(b"\r\n")[0].decode()
for target in ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "127.0.0.2", "[::ffff:127.0.0.1]"]:
    print("CONNECT", target, ask(f"CONNECT {target}:{port} HTTP/1.1\r\nHost: {target}:{port}\r\n"))
for target in ["127.0.0.1", "localhost", "[::1]"]:
    print("GET", target, ask(f"GET http://{target}:{port}/ HTTP/1.1\r\nHost: {target}:{port}\r\n"))
"""


def test_the_proxy_is_no_road_to_the_hosts_loopback_services(vault):
    """The proxy leaves from the host's network namespace: a CONNECT or http:// request
    to this machine would reach every service on the host's loopback. Refused (403)
    before any connection is made, unless --allow-host-port opened the port."""
    service = HostService()
    try:
        res = authsome_run(
            "--sandbox", "--", sys.executable, "-c", THROUGH_THE_PROXY, str(service.port)
        )
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert len(lines) == 9, lines
        for line in lines:
            assert line.split()[2:4] == ["HTTP/1.1", "403"], line
        assert service.accepted == 0

        opened = authsome_run(
            "--sandbox", "--allow-host-port", str(service.port), "--",
            sys.executable, "-c", THROUGH_THE_PROXY, str(service.port),
        )  # fmt: skip
        assert opened.returncode == 0, opened.stderr
        assert opened.stdout.splitlines()[0].split()[2:4] == ["HTTP/1.1", "200"], opened.stdout
        assert service.accepted >= 1
    finally:
        service.close()
