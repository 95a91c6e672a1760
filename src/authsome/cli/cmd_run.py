"""`authsome run [--only P,...] [--connection P=C] [--deny-unmatched] [--resolve H:P:A]
[--sandbox | --no-sandbox] [--allow-host-port PORT] [--lazy] -- CMD`"""

from __future__ import annotations

import argparse
import os
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
        "  authsome run --resolve api.example.com:443:127.0.0.1 -- curl https://api.example.com/\n"
        "  authsome run --sandbox --allow-host-port 11434 -- python my_agent.py",
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
    p.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run CMD in a bubblewrap sandbox it cannot read secrets from (Linux); "
        "the default when run.sandbox = true in $AUTHSOME_HOME/config",
    )
    p.add_argument(
        "--allow-host-port",
        action="append",
        default=[],
        metavar="PORT",
        help="with --sandbox: relay the host's 127.0.0.1:PORT into the sandbox (repeatable)",
    )
    p.add_argument(
        "--lazy",
        action="store_true",
        help="start CMD even if a selected connection needs a new login (its requests fail)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    p.set_defaults(func=run)


def parse_resolve(values: list[str]) -> dict[tuple[str, int], str]:
    from authsome.protocol.urls import is_ip_address

    out: dict[tuple[str, int], str] = {}
    for value in values:
        host, _, rest = value.partition(":")
        port, _, addr = rest.partition(":")
        addr = addr.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or not addr:
            raise UsageError(f"--resolve {value}: expected HOST:PORT:ADDR")
        # As curl's option: an address, else the connect fails later, obscurely.
        if not is_ip_address(addr):
            raise UsageError(f"--resolve {value}: {addr!r} is not an IP address")
        out[(host.lower(), int(port))] = addr
    return out


def parse_ports(values: list[str]) -> tuple[int, ...]:
    ports = []
    for value in values:
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise UsageError(f"--allow-host-port {value}: expected a port number")
        ports.append(int(value))
    return tuple(ports)


def sandbox_wanted(flag: bool | None) -> bool:
    """--sandbox / --no-sandbox, else `run.sandbox` in $AUTHSOME_HOME/config."""
    if flag is not None:
        return flag
    from authsome import paths

    path = os.path.join(paths.home(), "config")
    if not os.path.exists(path):  # the usual case: no TOML parser loaded
        return False
    from authsome.vault.backends import read_config

    setting = read_config().get("run", {})
    return isinstance(setting, dict) and setting.get("sandbox") is True


def parse_picks(values: list[str]) -> dict[str, str]:
    from authsome.records import valid_name

    picks: dict[str, str] = {}
    for value in values:
        provider, eq, connection = value.partition("=")
        if not eq or not provider or not connection:
            raise UsageError(f"--connection {value}: expected PROVIDER=CONNECTION")
        if not valid_name(connection):
            raise UsageError(f"--connection {value}: bad connection name '{connection}'")
        picks[provider] = connection
    return picks


def plan_routes(only: list[str] | None, picks: dict[str, str]):
    """(routes, env vars to set to the placeholder, warnings, the vault records read by
    (provider, connection)) for the chosen connections.

    Read from the raw definitions and the vault directly: the full credentials service
    (attrs, cattrs, the OAuth code) loads on the proxy's thread at the first request.
    """
    from authsome.errors import UnknownProvider
    from authsome.fastpath import stored_connections
    from authsome.providers.rules import (
        definition_secret_env_var,
        fill_hosts,
        provider_raw,
        user_file,
    )
    from authsome.proxy.routes import Route, select_connections
    from authsome.records import status_of

    definitions: dict[str, dict] = {}
    for provider in [*(only or []), *picks]:
        data = provider_raw(provider)
        if data is None:  # exit 4 before anything starts
            raise UnknownProvider(f"unknown provider '{provider}' (see `authsome list`)")
        definitions[provider] = data
    records = {(p, c): r for p, c, r in stored_connections()}
    stored = [(p, c, status_of(r)) for (p, c), r in records.items()]
    chosen, warnings = select_connections(stored, only, picks)
    routes, managed = [], []
    checked: set[str] = set()
    for provider, connection in chosen:
        data = definitions.get(provider) or provider_raw(provider)
        if data is None:
            warnings.append(f"{provider}: no provider definition; not injected")
            continue
        path = user_file(provider) if provider not in checked else None
        checked.add(provider)
        if path is not None:  # only a user file can hold an unknown key: bundled ones cost nothing
            from authsome.providers.unknown import file_warnings

            warnings.extend(f"warning: {line}" for line in file_warnings(data, path))
        data = fill_hosts(data, records[(provider, connection)].get("params"))
        urls = tuple(u for u in data.get("api_url") or () if isinstance(u, str))
        routes.append(Route(provider, connection, urls))
        # git under `run` gets no credential from the adapter: the proxy injects on its
        # hosts, Basic as git would send it (a host that takes Bearer gets the header)
        for host in data.get("git_hosts") or ():
            if isinstance(host, dict) and isinstance(host.get("host"), str):
                user = (
                    "" if host.get("bearer") is True else host.get("username") or "x-access-token"
                )
                routes.append(Route(provider, connection, (host["host"],), user))
        var = definition_secret_env_var(data)
        if var:
            managed.append(var)
    return routes, managed, warnings, records


def check_logins(routes, records: dict) -> None:
    """SPEC §6.9: a selected connection that needs a new login stops the run (exit 5,
    naming the login command) before CMD starts. Only a token that is not usable as it is
    costs more than the vault records already read (`records`): the service refreshes
    it, or says to log in."""
    from authsome.records import usable

    pairs = sorted({(r.provider, r.connection) for r in routes})
    stale = [pair for pair in pairs if not usable(records.get(pair) or {}, 60)]
    if stale:
        from authsome.credentials import CredentialService

        service = CredentialService()
        for provider, connection in stale:
            service.get(provider, connection)  # ReauthRequired names `authsome login ...`


def runner_options(allow_ports: tuple[int, ...]):
    from authsome.proxy.runner import SandboxOptions
    from authsome.proxy.sandbox import find_bwrap

    find_bwrap()  # exit 2 with the fix before anything starts
    return SandboxOptions(allow_ports)


def run(args) -> int:
    from authsome.procguard import guard_process

    guard_process()  # before any token or key is in memory
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
    allow_ports = parse_ports(args.allow_host_port)
    sandbox = None
    if sandbox_wanted(args.sandbox):
        sandbox = runner_options(allow_ports)
    elif allow_ports:
        raise UsageError("--allow-host-port needs --sandbox (without it every port is reachable)")

    from authsome import audit
    from authsome.proxy import runner
    from authsome.proxy.header_cache import ServiceHeaders
    from authsome.proxy.routes import RouteTable

    routes, managed, warnings, records = plan_routes(only, picks)
    for warning in warnings:
        print(f"authsome run: {warning}", file=sys.stderr)
    if not args.lazy:
        check_logins(routes, records)

    # Audit lines are written off the proxy threads (a shared vault logs over the network),
    # in order and in batches, and all of them before we exit.
    record = audit.Batcher()

    table = RouteTable(routes)
    for provider, entry in table.unbounded():
        print(
            f"authsome run: {provider}: api_url {entry} has no fixed domain suffix; "
            "its hosts get a blind tunnel, without a token",
            file=sys.stderr,
        )
    try:
        return runner.run(
            command,
            table,
            ServiceHeaders(),
            managed_vars=managed,
            resolve=resolve,
            deny_unmatched=args.deny_unmatched,
            audit=record,
            sandbox=sandbox,
        )
    finally:
        record.close()
