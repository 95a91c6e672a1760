"""A remote MCP server for tests, built with the official `mcp` Python SDK.

The SDK does the resource-server side itself: the streamable HTTP transport, the 401
`WWW-Authenticate` with `resource_metadata`, the RFC 9728 document, required scopes
(403 `insufficient_scope`) and, with `validate_token_resource`, refusing tokens minted
for another resource (RFC 8707). Tokens are checked against the test authorization
server (support.authserver) the way an introspection endpoint would answer.

It serves TLS (support.pki) on 127.0.0.1 under the name MCP_HOST, which `authsome run`
children reach with `--resolve` and which `authsome login` reaches through
`NameProxy` (support.name_proxy).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from support.authserver import AuthServer

MCP_HOST = "mcp.example.test"
SCOPE = "mcp:tools"


class _Verifier:
    """The SDK's TokenVerifier protocol, answered from the authorization server."""

    def __init__(self, auth: AuthServer, seen: list[str | None]) -> None:
        self.auth = auth
        self.seen = seen

    async def verify_token(self, token: str) -> AccessToken | None:
        info = self.auth.token_info(token)
        if info is None:
            return None
        self.seen.append(info["aud"])
        return AccessToken(
            token=token,
            client_id=info["client_id"],
            scopes=info["scope"].split(),
            expires_at=info["exp"],
            resource=info["aud"],
        )


class _Challenges:
    """ASGI wrapper: edits the SDK's WWW-Authenticate the way other servers send it.

    `drop_resource_metadata`: a server that publishes its metadata only at the
    well-known URI. `scope_hint`: the MCP 2025-11-25 `scope` parameter on a 403
    insufficient_scope (the SDK names the scope only in error_description).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.drop_resource_metadata = False
        self.scope_hint: str | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def edit(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [self._header(message, k, v) for k, v in message["headers"]],
                }
            await send(message)

        await self.app(scope, receive, edit)

    def _header(self, message: dict, name: bytes, value: bytes) -> tuple[bytes, bytes]:
        if name.lower() != b"www-authenticate":
            return name, value
        text = value.decode()
        if self.drop_resource_metadata:
            text = re.sub(r',\s*resource_metadata="[^"]*"', "", text)
        if self.scope_hint and message["status"] == 403:
            text += f', scope="{self.scope_hint}"'
        return name, text.encode()


class McpTestServer:
    """`with McpTestServer(auth, pki) as mcp:` -> mcp.url is https://MCP_HOST:PORT/mcp."""

    def __init__(
        self,
        auth: AuthServer,
        pki: dict[str, Path],
        *,
        resource_path: str = "/mcp",
        required_scopes: tuple[str, ...] = (SCOPE,),
    ) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"https://{MCP_HOST}:{self.port}/mcp"
        self.audiences: list[str | None] = []  # each token's resource, as the server saw it
        self.release = threading.Event()  # lets the `ticks` tool send its last event
        self.calls: list[str] = []
        server = MCPServer(
            "authsome-test",
            token_verifier=_Verifier(auth, self.audiences),
            auth=AuthSettings(
                issuer_url=auth.issuer,
                resource_server_url=f"https://{MCP_HOST}:{self.port}{resource_path}",
                required_scopes=list(required_scopes),
                validate_token_resource=True,
            ),
        )

        @server.tool()
        def echo(text: str) -> str:
            """Say it back."""
            self.calls.append("echo")
            return f"echo: {text}"

        @server.tool()
        async def ticks(ctx: Context) -> str:
            """Two progress events, the second only after the test releases it."""
            self.calls.append("ticks")
            await ctx.report_progress(1, 2, "tick 1")
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            await ctx.report_progress(2, 2, "tick 2")
            return "done"

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            app = server.streamable_http_app(
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
        self.challenges = _Challenges(app)
        config = uvicorn.Config(
            self.challenges,
            ssl_certfile=str(pki["cert"]),
            ssl_keyfile=str(pki["key"]),
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> McpTestServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()
