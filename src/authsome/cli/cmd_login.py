"""`authsome login NAME`: run the provider's flow and store what it yields.

Decisions (the SPEC is silent):
- A connection that is already `connected` is kept, and login says so; `--force` logs
  in again (a browser flow is costly, and setup scripts re-run login). A key given
  with `--api-key-stdin` is an explicit replacement and is always stored.
- Exit codes: a timeout or a "deny" at the provider (access_denied) are a cancelled
  login, 7; Ctrl-C is 130; any other refusal by the provider is 1; bad input is 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from authsome.cli import output
from authsome.errors import Interrupted, NotFound, UsageError

FLOWS = ("pkce", "device_code", "dcr_pkce", "api_key")
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 86400.0  # a day: longer is a typo, and `inf` overflows the clock's waits


def check_timeout(seconds: float) -> None:
    """--timeout as given: argparse takes `nan` and `inf` as floats."""
    if not 0 < seconds <= MAX_TIMEOUT:  # false for nan too
        raise UsageError("--timeout must be a positive number of seconds (at most a day)")


EXAMPLES = """examples:
  authsome login github                          OAuth2 in the browser
  authsome login github --no-browser --flow device_code
  printf %s "$KEY" | authsome login openai --api-key-stdin
  authsome login gitlab-self-managed --base-url gitlab.example.com
  authsome login zendesk --set subdomain=acme --connection acme
  OPENAI_API_KEY=sk-... authsome login openai --from-env
  authsome login --mcp https://mcp.example.com/mcp   any remote MCP server, discovered
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "login",
        help="log in to a provider (OAuth2 in the browser, device code, or an API key)",
        description="Run the provider's login flow and keep the result in the vault. "
        "Providers with placeholders in their hosts ({base_url}, {subdomain}, ...; see "
        "`authsome inspect NAME`) take their values with --set or --base-url; they are "
        "kept with the connection.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", nargs="?", help="provider name (see `authsome list`)")
    p.add_argument(
        "--mcp",
        metavar="URL",
        help="a remote MCP server: discover its authorization and write its definition",
    )
    p.add_argument("--name", dest="mcp_name", metavar="NAME", help="with --mcp: the provider name")
    p.add_argument(
        "--client-metadata-url",
        metavar="URL",
        help="with --mcp: the client ID metadata document you host (used when the server "
        "supports them)",
    )
    output.add_connection(p)
    p.add_argument("--scopes", help="comma-separated scopes, replacing the provider's defaults")
    p.add_argument("--flow", choices=FLOWS, help="use this flow instead of the provider's default")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening it")
    p.add_argument("--client-id", help="OAuth client id (skips the local client form)")
    p.add_argument(
        "--client-secret-stdin", action="store_true", help="read the client secret from stdin"
    )
    p.add_argument("--api-key-stdin", action="store_true", help="read the API key from stdin")
    p.add_argument(
        "--from-env",
        action="store_true",
        help="store the token / API key found in the provider's env vars (checked first)",
    )
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait (default 300)"
    )
    p.add_argument("--force", action="store_true", help="log in again even if connected")
    p.add_argument(
        "--set",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for the provider's placeholders, e.g. --set shop=acme (repeatable)",
    )
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="the host of a self-hosted instance (same as --set base_url=URL)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        raise Interrupted("login cancelled")


def _run(args: argparse.Namespace) -> int:
    from authsome.credentials import CredentialService, check_connection_name

    if args.mcp or args.mcp_name:
        from authsome.cli.cmd_login_mcp import check_args, run_mcp

        if not args.mcp:
            raise UsageError("--name goes with --mcp URL")
        check_args(args)
        return run_mcp(args, args.mcp, args.mcp_name)
    if not args.name:
        raise UsageError("name a provider (see `authsome list`), or give --mcp URL")
    if args.scopes is not None and not args.scopes.replace(",", " ").split():
        raise UsageError("--scopes needs at least one scope (leave it out for the defaults)")
    args.name = output.provider_name(args.name)
    service = CredentialService()
    definition = service.registry.get(args.name)
    # A typo in the user's file (`key_patern`) silently falls back to a default: say so
    # before the flow uses it.
    output.warn_unknown_keys(service.registry, definition)
    if definition.mcp is not None:
        from authsome.cli.cmd_login_mcp import check_args, run_mcp

        check_args(args)
        return run_mcp(args, definition.mcp.url, definition.name)
    if args.client_metadata_url:
        raise UsageError(f"--client-metadata-url is for MCP servers; {definition.name} is not one")
    connection = check_connection_name(args.connection)
    if args.api_key_stdin and args.client_secret_stdin:
        raise UsageError("stdin can carry the API key or the client secret, not both")
    if args.from_env and (args.api_key_stdin or args.client_secret_stdin):
        raise UsageError("--from-env reads the environment, not stdin")
    params = _params(service, definition, connection, args)
    if args.from_env:
        return _login_from_env(service, definition, connection, params)
    if definition.auth_type == "api_key":
        if args.flow not in (None, "api_key"):
            raise UsageError(
                f"{definition.name} takes an API key; it has no {args.flow} flow "
                "(its only flow: api_key)"
            )
        return _login_api_key(service, definition, connection, args, params)
    if args.api_key_stdin:
        raise UsageError(f"{definition.name} uses OAuth2, not an API key: drop --api-key-stdin")
    return _login_oauth(service, definition, connection, args, params)


def _existing(service, name: str, connection: str) -> dict | None:
    from authsome.vault.vault import RecordUnreadable

    try:
        return service.record(name, connection)
    except NotFound:
        return None
    except RecordUnreadable as exc:  # rolled back or junk: logging in again replaces it
        output.warn(str(exc))
        return None


def _already(service, definition, connection: str, args: argparse.Namespace) -> bool:
    """True (and says so) when a connected connection is kept."""
    from authsome.records import status_of

    record = _existing(service, definition.name, connection)
    if args.force or record is None or status_of(record) != "connected":
        return False
    extra = "" if connection == "default" else f" --connection {connection}"
    _say(
        f"{definition.display_name} ({connection}) is already connected; "
        f"run `authsome login {definition.name}{extra} --force` to log in again"
    )
    return True


def _base_url(url: str) -> str:
    """--base-url: an https:// URL (http:// only on loopback) or a bare host (https)."""
    from urllib.parse import urlsplit

    from authsome.oauth.http import is_loopback_host

    url = url.strip()
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme.lower() == "https" or (parts.scheme == "http" and is_loopback_host(host)):
        return url
    raise UsageError(
        f"--base-url must be an https:// URL (http:// only on loopback), "
        f"not {output.visible(parts.scheme)}://"
    )


def _params(service, definition, connection: str, args: argparse.Namespace) -> dict[str, str]:
    """Template values: --set / --base-url over those the connection already has.

    A value the login must have and lacks is a usage error naming the flag to add."""
    from authsome.providers.templates import connection_params, parse_assignments

    items = list(args.params)
    if args.base_url:
        items.append(f"base_url={_base_url(args.base_url)}")
    given = parse_assignments(items, definition)
    if "base_url" in given:
        # Shown before anything is sent, so a pasted URL's real host is seen.
        _say(f"{definition.display_name} instance: {output.visible(given['base_url'])}")
    old = _existing(service, definition.name, connection)
    return connection_params(definition, (old or {}).get("params") or {}, given)


def _login_from_env(service, definition, connection: str, params: dict[str, str]) -> int:
    """Store what the provider's env vars hold (checked); exit 2 if any was refused."""
    import os

    from authsome.importing import REFUSED, STORED, env_names, import_variables

    names = env_names(definition)
    present = {v: os.environ[v] for v in names if v in os.environ}
    if not present:
        wanted = ", ".join(names) or "(none: the definition names no env var)"
        raise UsageError(f"none of {definition.name}'s variables is set: {wanted}")
    outcomes = import_variables(
        service,
        present,
        connection=connection,
        providers=[definition],
        params={definition.name: params},
    )
    for o in outcomes:
        _say(f"{o.variable}: {o.result}" + (f" ({output.visible(o.reason)})" if o.reason else ""))
    if any(o.result == REFUSED for o in outcomes):
        return 2
    if not any(o.result == STORED for o in outcomes):
        raise UsageError(f"nothing usable for {definition.name} in the environment")
    _say(f"Stored {definition.display_name} ({connection}) from the environment.")
    return 0


def _login_api_key(
    service, definition, connection: str, args: argparse.Namespace, params: dict[str, str]
) -> int:
    service.check_vault_opens()  # before the key is read: it would only be dropped
    cfg = definition.api_key
    prompt = cfg.basic_user_prompt if cfg is not None else None
    user = None
    if args.api_key_stdin:
        key = sys.stdin.read()
        if prompt:  # the user name first: `USER:KEY` or two lines
            user, sep, key = key.strip().replace("\n", ":", 1).partition(":")
            if not sep:
                raise UsageError(f"stdin must hold '{prompt}:key' (or the two on two lines)")
    elif sys.stdin.isatty():
        if _already(service, definition, connection, args):
            return 0
        if prompt:
            user = input(f"{definition.display_name} {prompt}: ")
        key = getpass.getpass(f"{definition.display_name} API key (input hidden): ")
    else:
        raise UsageError("no API key: pipe it in with --api-key-stdin")
    service.store_api_key(
        definition.name,
        connection,
        key,
        event="login",
        params=params,
        basic_user=user,
        raw_key=True,
    )
    _say(f"Stored the {definition.display_name} API key ({connection}).")
    return 0


def _login_oauth(
    service, definition, connection: str, args: argparse.Namespace, params: dict[str, str]
) -> int:
    from authsome.oauth.login import LoginRequest, choose_flow, login_and_store
    from authsome.oauth.loopback import callback_port
    from authsome.oauth.responses import parse_scopes
    from authsome.oauth.tokens import ClientCredentials
    from authsome.providers.templates import check_filled, fill_provider

    check_timeout(args.timeout)
    if args.client_secret_stdin and not args.client_id:
        raise UsageError("--client-secret-stdin needs --client-id")
    flow = choose_flow(definition, args.flow)
    if _already(service, definition, connection, args):
        return 0
    provider = fill_provider(definition, params)
    check_filled(provider)
    # Before the browser opens: a vault that will not take the token fails here, not
    # after the user has signed in.
    service.check_vault_opens()

    stored = service.client(definition.name)
    client = stored
    if args.client_id:
        secret = _read_secret("Client secret: ") if args.client_secret_stdin else None
        client = ClientCredentials(client_id=args.client_id.strip(), client_secret=secret)
    scopes = parse_scopes(args.scopes) if args.scopes else list(provider.oauth.scopes)
    request = LoginRequest(
        flow=flow,
        scopes=scopes,
        client=client,
        port=callback_port(),
        open_browser=not args.no_browser,
        timeout=args.timeout,
        connection=connection,
    )

    tokens = login_and_store(service, definition, provider, request, params)
    granted = output.visible(" ".join(tokens.scopes)) or "(none named)"
    _say(f"Logged in to {provider.display_name} ({connection}). Scopes: {granted}")
    return 0


def _read_secret(prompt: str) -> str:
    """A secret from stdin (hidden prompt on a terminal); never from argv."""
    value = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.read()
    value = value.strip()
    if not value:
        raise UsageError("the client secret on stdin is empty")
    if not value.isprintable():
        raise UsageError("the client secret contains control characters")
    return value


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
