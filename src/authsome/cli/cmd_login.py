"""`authsome login NAME`: run the provider's flow and store what it yields.

Decisions (the SPEC is silent):
- A connection that is already `connected` is kept, and login says so; `--force` logs
  in again (a browser flow is costly, and setup scripts re-run login). A key given
  with `--api-key-stdin` is an explicit replacement and is always stored.
- Exit codes: a timeout, Ctrl-C, or a "deny" at the provider (access_denied) are a
  cancelled login, 7; any other refusal by the provider is 1; bad input is 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from authsome.errors import NotFound, TimedOut, UsageError

FLOWS = ("pkce", "device_code", "dcr_pkce", "api_key")
DEFAULT_TIMEOUT = 300.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "login",
        help="log in to a provider (OAuth2 in the browser, device code, or an API key)",
        description="Run the provider's login flow and keep the result in the vault.",
    )
    p.add_argument("name", help="provider name (see `authsome list`)")
    p.add_argument("--connection", default="default", help="connection name (default: default)")
    p.add_argument("--scopes", help="comma-separated scopes, replacing the provider's defaults")
    p.add_argument("--flow", choices=FLOWS, help="use this flow instead of the provider's default")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening it")
    p.add_argument("--client-id", help="OAuth client id (skips the local client form)")
    p.add_argument(
        "--client-secret-stdin", action="store_true", help="read the client secret from stdin"
    )
    p.add_argument("--api-key-stdin", action="store_true", help="read the API key from stdin")
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait (default 300)"
    )
    p.add_argument("--force", action="store_true", help="log in again even if connected")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for the provider's placeholders, e.g. --param shop=acme",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        raise TimedOut("login cancelled")


def _run(args: argparse.Namespace) -> int:
    from authsome.credentials import CredentialService, check_connection_name

    service = CredentialService()
    definition = service.registry.get(args.name)
    connection = check_connection_name(args.connection)
    if args.api_key_stdin and args.client_secret_stdin:
        raise UsageError("stdin can carry the API key or the client secret, not both")
    if definition.auth_type == "api_key":
        if args.flow not in (None, "api_key"):
            raise UsageError(f"{definition.name} takes an API key; it has no {args.flow} flow")
        return _login_api_key(service, definition, connection, args)
    if args.api_key_stdin:
        raise UsageError(f"{definition.name} uses OAuth2, not an API key: drop --api-key-stdin")
    return _login_oauth(service, definition, connection, args)


def _existing(service, name: str, connection: str) -> dict | None:
    try:
        return service.record(name, connection)
    except NotFound:
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


def _login_api_key(service, definition, connection: str, args: argparse.Namespace) -> int:
    if args.api_key_stdin:
        key = sys.stdin.read()
    elif sys.stdin.isatty():
        if _already(service, definition, connection, args):
            return 0
        key = getpass.getpass(f"{definition.display_name} API key (input hidden): ")
    else:
        raise UsageError("no API key: pipe it in with --api-key-stdin")
    service.store_api_key(definition.name, connection, key, event="login")
    _say(f"Stored the {definition.display_name} API key ({connection}).")
    return 0


def _login_oauth(service, definition, connection: str, args: argparse.Namespace) -> int:
    from authsome.oauth.login import LoginRequest, choose_flow, run_login
    from authsome.oauth.loopback import callback_port
    from authsome.oauth.responses import parse_scopes
    from authsome.oauth.tokens import ClientCredentials
    from authsome.providers.templates import fill_provider, missing_params, normalize_value

    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if args.client_secret_stdin and not args.client_id:
        raise UsageError("--client-secret-stdin needs --client-id")
    flow = choose_flow(definition, args.flow)
    if _already(service, definition, connection, args):
        return 0
    params = _params(args.param, normalize_value)
    old = _existing(service, definition.name, connection)
    params = {**((old or {}).get("params") or {}), **params}
    missing = missing_params(definition, params)
    if missing:
        hints = "; ".join(f"{n}: {definition.templates[n].description}" for n in missing)
        raise UsageError(f"{definition.name} needs --param {missing[0]}=VALUE ({hints})")
    provider = fill_provider(definition, params)

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
    )

    def keep(c: ClientCredentials) -> None:
        service.store_client(definition.name, c)

    tokens, used = run_login(provider, request, on_registered=keep)
    if used != service.client(definition.name):
        keep(used)  # a client that worked is reused on later logins
    service.store_token(definition.name, connection, tokens, params=params, event="login")
    granted = " ".join(tokens.scopes) or "(none named)"
    _say(f"Logged in to {provider.display_name} ({connection}). Scopes: {granted}")
    return 0


def _params(items: list[str], normalize) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"--param wants NAME=VALUE, not '{item}'")
        out[name.strip()] = normalize(name.strip(), value.strip())
    return out


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
