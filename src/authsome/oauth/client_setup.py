"""Collecting a client through the local form alone (flows without a browser redirect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from authsome.oauth.authorize import new_state
from authsome.oauth.loopback import FormSpec, LoopbackServer
from authsome.oauth.prompt import Deadline, show_url
from authsome.oauth.tokens import ClientCredentials

if TYPE_CHECKING:
    from authsome.providers.model import Provider


def collect_client(
    provider: Provider,
    *,
    needs_secret: bool,
    port: int,
    open_browser: bool,
    deadline: Deadline,
    connection: str = "default",
) -> ClientCredentials:
    """Serve the client form until it is submitted; TimedOut on timeout or Ctrl-C."""
    name = provider.display_name
    form = FormSpec(name, needs_secret, provider.docs_url, on_submit=lambda _c: None)
    with LoopbackServer(port, new_state(), name, connection, form) as server:
        show_url(server.form_url, what=f"enter your {name} OAuth client", open_browser=open_browser)
        try:
            deadline.wait(server.client_ready, f"the {name} client form in your browser")
        finally:
            deadline.done()
        assert server.client is not None
        return server.client
