"""The real ProxyServer in process, against a scriptable asyncio HTTPS upstream.

For the tests that need to see inside: when the upstream's connections close, the
process's open fds, what asyncio reports. `Harness.client()` opens a connection through
the proxy the way a child does (CONNECT, Proxy-Authorization, TLS with the run's CA).
"""

from __future__ import annotations

import asyncio
import gc
import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import h11

from authsome.proxy.ca import CertAuthority
from authsome.proxy.http_rules import basic_credential
from authsome.proxy.limits import Limits
from authsome.proxy.routes import Route, RouteTable
from authsome.proxy.server import ProxyServer
from authsome.proxy.upstream import Pool, Resolver

API_HOST = "api.example.test"
CRED = basic_credential("authsome", "harness")
# handler(conn, reader, writer, request) -> None; the harness records connection ends
Handler = Callable[
    [h11.Connection, asyncio.StreamReader, asyncio.StreamWriter, h11.Request], Awaitable[None]
]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def receive(conn: h11.Connection, reader: asyncio.StreamReader):
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(65536))


class Harness:
    def __init__(
        self,
        pki: dict[str, Path],
        handler: Handler,
        limits: Limits | None = None,
        stall_handshake: bool = False,
    ):
        self.pki = pki
        self.stall_handshake = stall_handshake  # accept TCP, never answer the TLS hello
        self.handler = handler
        self.limits = limits
        self.opened = 0
        self.closed = 0
        self.closed_event = asyncio.Event()
        self.errors: list[dict] = []  # what the loop's exception handler saw

    async def __aenter__(self) -> Harness:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(self.pki["cert"], self.pki["key"])
        if self.stall_handshake:
            self.upstream = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        else:
            self.upstream = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=server_ctx)
        self.upstream_port = self.upstream.sockets[0].getsockname()[1]
        routes = RouteTable([Route("testapi", "default", (API_HOST,))])

        def upstream_tls() -> ssl.SSLContext:
            return ssl.create_default_context(cafile=str(self.pki["ca"]))

        def header(provider: str, connection: str, force: bool) -> tuple[str, str]:
            return "Authorization", "Bearer harness-token"

        self.proxy = ProxyServer(
            routes,
            header,
            CertAuthority(routes.names()),
            Pool(Resolver({(API_HOST, self.upstream_port): "127.0.0.1"}), upstream_tls),
            CRED,
            limits=self.limits,
        )
        self.proxy_port = self.proxy.start()
        self.client_ctx = ssl.create_default_context(cadata=self.proxy.ca.cert_pem.decode())
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.to_thread(self.proxy.close)
        self.upstream.close()
        await self.upstream.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                req = await receive(conn, reader)
                if not isinstance(req, h11.Request):
                    return
                await self.handler(conn, reader, writer, req)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, OSError, h11.ProtocolError, ssl.SSLError):
            return
        except asyncio.CancelledError:
            return  # the test is over (3.11 reports a cancelled connection task as an error)
        finally:
            self.closed += 1
            self.closed_event.set()
            writer.transport.abort()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()

    async def raw(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.proxy_port)

    async def client(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection through the proxy to the upstream, TLS done, ready for a request."""
        reader, writer = await self.raw()
        target = f"{API_HOST}:{self.upstream_port}"
        writer.write(
            f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
            f"Proxy-Authorization: {CRED.decode()}\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        await writer.start_tls(self.client_ctx, server_hostname=API_HOST)
        return reader, writer

    async def settle(self, baseline: int, seconds: float = 5.0) -> int:
        """Open fds once they are back to `baseline` (or after `seconds`)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while open_fds() > baseline and loop.time() < end:
            await asyncio.sleep(0.05)
        gc.collect()  # asyncio reports a lost task exception when the task is collected
        await asyncio.sleep(0)
        return open_fds()
