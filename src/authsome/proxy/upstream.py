"""Connections from the proxy to real servers: opened over verified TLS (or plain TCP
for http://), honouring `--resolve`, and kept alive in a small pool per origin.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

import h11

from .http11 import Peer
from .limits import UPSTREAM_CONNECT_TIMEOUT

IDLE_LIMIT = 8  # idle connections kept per origin
IDLE_SECONDS = 50.0  # below the usual 60 s server keep-alive timeout

Origin = tuple[str, str, int]  # (scheme, host, port)


class UpstreamError(Exception):
    """The real server could not be reached (DNS, refused, TLS verification, timeout)."""


class UpstreamTimeout(UpstreamError):
    """The real server did not connect or answer in time (504, not 502)."""


class Resolver:
    """`--resolve HOST:PORT:ADDR`, as curl does: connections for host:port go to addr."""

    def __init__(self, mapping: dict[tuple[str, int], str] | None = None) -> None:
        self.mapping = {(h.lower(), p): a for (h, p), a in (mapping or {}).items()}

    def address(self, host: str, port: int) -> str:
        return self.mapping.get((host.lower(), port), host)


async def open_stream(
    host: str,
    port: int,
    resolver: Resolver,
    tls: ssl.SSLContext | None,
    timeout: float = UPSTREAM_CONNECT_TIMEOUT,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """TCP (and TLS verified against `host`, whatever address it resolved to)."""
    addr = resolver.address(host, port)
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(
                addr,
                port,
                ssl=tls,
                server_hostname=host if tls else None,
                limit=2**20,
            ),
            timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        raise UpstreamError(f"{host}:{port}: TLS verification failed: {exc.verify_message}")
    except TimeoutError:
        raise UpstreamTimeout(f"{host}:{port}: no connection within {timeout:g} s")
    except (OSError, ssl.SSLError) as exc:
        reason = str(exc) or type(exc).__name__
        raise UpstreamError(f"{host}:{port}: cannot connect: {reason}")


class Pool:
    """Keep-alive upstream connections, one list of idle peers per origin."""

    def __init__(
        self,
        resolver: Resolver,
        tls: Callable[[], ssl.SSLContext],
        connect_timeout: float = UPSTREAM_CONNECT_TIMEOUT,
    ) -> None:
        self.resolver = resolver
        self.connect_timeout = connect_timeout
        self._tls_factory = tls
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[tuple[float, Peer]]] = {}

    def tls(self) -> ssl.SSLContext:
        # Built on first use: loading the system store costs time `authsome run` need not
        # spend before the child starts.
        if self._tls is None:
            self._tls = self._tls_factory()
        return self._tls

    async def acquire(self, origin: Origin) -> tuple[Peer, bool]:
        """A ready peer for `origin`, and whether it was reused from the pool."""
        idle = self._idle.get(origin, [])
        now = time.monotonic()
        while idle:
            since, peer = idle.pop()
            if now - since < IDLE_SECONDS and not peer.reader.at_eof():
                return peer, True
            peer.abort()
        scheme, host, port = origin
        tls = self.tls() if scheme == "https" else None
        reader, writer = await open_stream(host, port, self.resolver, tls, self.connect_timeout)
        return Peer(reader, writer, h11.CLIENT), False

    def release(self, origin: Origin, peer: Peer) -> None:
        """Back to the pool if the exchange finished cleanly, else closed."""
        if peer.writer.is_closing() or not peer.reusable():
            peer.abort()
            return
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= IDLE_LIMIT:
            peer.close()
            return
        idle.append((time.monotonic(), peer))

    def close(self) -> None:
        for idle in self._idle.values():
            for _, peer in idle:
                peer.close()
        self._idle.clear()
