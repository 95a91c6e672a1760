"""Small local stand-ins shared by the run and sandbox tests: a TCP service on the
host's loopback that counts who came, and the live children of a process."""

from __future__ import annotations

import os
import socket
import threading


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


def children_of(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    out = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            out.append(int(name))
    return out
