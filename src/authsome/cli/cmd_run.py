"""`authsome run [--only P,...] [--connection P=C] [--deny-unmatched] [--resolve H:P:A] -- CMD`"""

from __future__ import annotations

import argparse
import sys

from authsome.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a command under the token-injecting proxy",
        description="Run CMD with a local proxy that adds the real token to requests for the "
        "providers' API hosts. The child only sees the placeholder authsome-proxy-managed.",
        epilog="examples:\n  authsome run -- python my_agent.py\n"
        "  authsome run --only github --connection github=work -- gh api /user\n"
        "  authsome run --resolve api.example.com:443:127.0.0.1 -- curl https://api.example.com/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--only", action="append", metavar="P,...", help="only these providers")
    p.add_argument(
        "--connection",
        action="append",
        default=[],
        metavar="P=C",
        help="use connection C of provider P (default: 'default')",
    )
    p.add_argument(
        "--deny-unmatched", action="store_true", help="answer 403 for hosts of no provider"
    )
    p.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT (as curl --resolve)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    p.set_defaults(func=run)


def parse_resolve(values: list[str]) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for value in values:
        host, _, rest = value.partition(":")
        port, _, addr = rest.partition(":")
        addr = addr.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or not addr:
            raise UsageError(f"--resolve {value}: expected HOST:PORT:ADDR")
        out[(host.lower(), int(port))] = addr
    return out


def parse_picks(values: list[str]) -> dict[str, str]:
    from authsome.credentials import check_connection_name

    picks: dict[str, str] = {}
    for value in values:
        provider, eq, connection = value.partition("=")
        if not eq or not provider or not connection:
            raise UsageError(f"--connection {value}: expected PROVIDER=CONNECTION")
        picks[provider] = check_connection_name(connection)
    return picks


def run(args) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("nothing to run: authsome run [options] -- CMD ARGS...")
    only = None
    if args.only:
        only = [p.strip() for v in args.only for p in v.split(",") if p.strip()]
    picks = parse_picks(args.connection)
    resolve = parse_resolve(args.resolve)

    from concurrent.futures import ThreadPoolExecutor

    from authsome import audit
    from authsome.credentials import CredentialService
    from authsome.proxy import runner
    from authsome.proxy.routes import Route, RouteTable, select_connections
    from authsome.proxy.tokens import ServiceHeaders

    service = CredentialService()
    for provider in [*(only or []), *picks]:
        service.registry.get(provider)  # UnknownProvider (exit 4) before anything starts
    stored = [(s.provider, s.connection, s.status) for s in service.list()]
    chosen, warnings = select_connections(stored, only, picks)
    for warning in warnings:
        print(f"authsome run: {warning}", file=sys.stderr)
    routes, managed = [], []
    for provider, connection in chosen:
        params = service.record(provider, connection).get("params")
        definition = service.provider(provider, params)
        routes.append(Route(provider, connection, tuple(definition.api_url)))
        if definition.secret_env_var:
            managed.append(definition.secret_env_var)

    # Audit lines are written off the event loop (a shared vault logs over the network),
    # in order, and all of them before we exit.
    auditor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="authsome-audit")

    def record(event: str, **fields) -> None:
        auditor.submit(audit.record, event, **fields)

    try:
        return runner.run(
            command,
            RouteTable(routes),
            ServiceHeaders(service),
            managed_vars=managed,
            resolve=resolve,
            deny_unmatched=args.deny_unmatched,
            audit=record,
        )
    finally:
        auditor.shutdown(wait=True)
