"""Tunnels: bytes relayed both ways, untouched, until the conversation ends.

A blind tunnel joins two plain sockets (a CONNECT to a host we do not intercept): one
thread per direction, half-closes passed on. An upgraded connection (a WebSocket after
its `101 Switching Protocols`) joins two connections that may each be TLS; one thread
serves both directions, since an SSL object must not be used by two threads at once.
"""

from __future__ import annotations

import select
import socket
import threading

from .conn import NETWORK_ERRORS, Conn


def splice_sockets(client: socket.socket, upstream: socket.socket, rest: bytes = b"") -> None:
    """Copy both ways until both sides are done; `rest` goes to the upstream first."""
    client.settimeout(None)
    if rest:
        upstream.sendall(rest)
    back = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
    back.start()
    _copy(client, upstream)
    back.join()


def _copy(src: socket.socket, dst: socket.socket) -> None:
    """One direction of a tunnel; passes the half-close on."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def splice_conns(a: Conn, b: Conn) -> None:
    """Relay plaintext both ways between two connections until either side ends (or
    fails). The caller closes both."""
    peers = {a.sock: (a, b), b.sock: (b, a)}
    try:
        while True:
            ready = [c.sock for c in (a, b) if c.readable_now()]
            if not ready:
                ready, _, _ = select.select(list(peers), [], [])
            for sock in ready:
                src, dst = peers[sock]
                data = src.read_plain()
                if not data:
                    return
                dst.send(data, None)
    except (ValueError, *NETWORK_ERRORS):
        return  # a side went away (or the run is ending and shut it down)
