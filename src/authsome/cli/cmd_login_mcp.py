"""`authsome login --mcp URL [--name NAME]`, and `authsome login NAME` for a provider
with an `mcp.url` (the bundled MCP entries): discover the server's authorization
(oauth/mcp_discovery.py), pick or register a client, write the definition, log in.

Every login discovers again (metadata can move). A definition found by `--mcp` is
written to $AUTHSOME_HOME/providers/NAME.json (0600); a bundled entry is not copied
there: the discovered endpoints travel with its stored client, as a DCR client's do.
Refusals (resource or issuer mismatch, no S256, no way to register) happen before
anything is written.
"""

from __future__ import annotations

import argparse
import json
import os

from authsome.errors import ProviderError, UnknownProvider, UsageError

_NOT_WITH_MCP = (
    ("api_key_stdin", "--api-key-stdin"),
    ("from_env", "--from-env"),
    ("flow", "--flow"),
    ("params", "--set"),
    ("base_url", "--base-url"),
)


def check_args(args: argparse.Namespace) -> None:
    if args.name and args.mcp:
        raise UsageError("give the MCP server's URL with --mcp, and its name with --name")
    for attr, flag in _NOT_WITH_MCP:
        if getattr(args, attr, None):
            raise UsageError(f"{flag} does not apply to an MCP server login")


def run_mcp(args: argparse.Namespace, url: str, name: str | None) -> int:
    from authsome.cli.cmd_login import _already, _read_secret, _say, check_timeout
    from authsome.credentials import CredentialService, check_connection_name
    from authsome.oauth import mcp_discovery as rules
    from authsome.oauth import mcp_login
    from authsome.oauth.authorize import redirect_uri
    from authsome.oauth.login import LoginRequest, run_login
    from authsome.oauth.loopback import callback_port
    from authsome.oauth.responses import parse_scopes
    from authsome.oauth.tokens import ClientCredentials
    from authsome.providers.loader import NAME_RE, parse_definition

    check_timeout(args.timeout)
    if args.client_secret_stdin and not args.client_id:
        raise UsageError("--client-secret-stdin needs --client-id")
    url = rules.check_server_url(url)
    name = name or rules.default_name(url)
    if not NAME_RE.match(name):
        raise UsageError(f"'{name}' cannot be a provider name: pick one with --name")
    connection = check_connection_name(args.connection)
    document = args.client_metadata_url
    if document:
        rules.check_metadata_document_url(document)
    service = CredentialService()
    existing = _existing_definition(service, name, url)
    if existing is not None and not args.scopes and _already(service, existing, connection, args):
        return 0
    service.check_vault_opens()  # before discovery, registration and the browser

    found = mcp_login.discover(url)
    previous = list(existing.oauth.scopes) if existing and existing.oauth else []
    added = parse_scopes(args.scopes) if args.scopes else []
    scopes = rules.scopes_to_request(found.challenge_scopes, found.resource, previous, added)
    given = None
    if args.client_id:
        secret = _read_secret("Client secret: ") if args.client_secret_stdin else None
        given = ClientCredentials(client_id=args.client_id.strip(), client_secret=secret)
    port = callback_port()
    stored = service.client(name) if existing is not None else None
    client, _fresh = mcp_login.choose_client(
        found,
        stored,
        given=given,
        metadata_document=document,
        redirect=redirect_uri(port),
        scopes=scopes,
    )
    kind = client.registration[mcp_login.KIND_KEY]
    client_auth = rules.client_auth_for(found.server, bool(client.client_secret))
    data = rules.provider_definition(
        name, found, scopes=scopes, registration=kind, client_auth=client_auth
    )
    if existing is not None and existing.source == "bundled":
        provider = existing  # endpoints come from the client's registration (effective_oauth)
    else:
        path = os.path.join(service.registry.home, "providers", f"{name}.json")
        provider = parse_definition(data, path=path)
        _write_definition(path, data)
        service._registry = None  # the new file is a provider from now on
    service.store_client(name, client)  # registration is server-side state: keep it now

    request = LoginRequest(
        flow="pkce",
        scopes=scopes,
        client=client,
        port=port,
        open_browser=not args.no_browser,
        timeout=args.timeout,
    )

    def keep_tokens(tokens, used) -> None:
        if used != client:
            service.store_client(name, used)
        service.store_token(name, connection, tokens, event="login")

    tokens, _ = run_login(provider, request, on_registered=lambda c: None, on_tokens=keep_tokens)
    granted = " ".join(tokens.scopes) or "(none named)"
    _say(
        f"Logged in to {provider.display_name} as provider {name} ({connection}). Scopes: {granted}"
    )
    return 0


def _existing_definition(service, name: str, url: str):
    """The provider `name` if it is this MCP server; None if there is none. A provider
    of that name for anything else is refused (pick another --name)."""
    from authsome.oauth.mcp_discovery import canonical

    try:
        existing = service.registry.get(name)
    except UnknownProvider:
        return None
    except ProviderError as exc:
        raise UsageError(f"{name} has a broken definition ({exc}): fix it or pick another --name")
    if existing.mcp is None or canonical(existing.mcp.url) != canonical(url):
        raise UsageError(f"'{name}' is already a provider for something else: pick another --name")
    return existing


def _write_definition(path: str, data: dict) -> None:
    from authsome import paths
    from authsome.vault.files import atomic_write

    paths.ensure_dir(os.path.dirname(path))
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())
