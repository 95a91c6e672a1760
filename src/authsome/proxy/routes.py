"""Which (provider, connection) a request to host+path belongs to. Pure; no I/O.

The matching rules themselves live in `authsome.providers.matching` (shared with the
helpers); this module only keeps the selected connections and their `api_url` entries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from authsome.errors import NotFound, UsageError
from authsome.providers.matching import REGEX_PREFIX, match_url, split_entry, strip_default_port

from .ca import constraint_names, name_permitted


class Route(NamedTuple):
    # A NamedTuple, not attrs: `authsome run` builds routes before the child starts, and
    # importing attrs there would cost 12 ms of its start-up.
    provider: str
    connection: str
    api_url: tuple[str, ...]
    git_user: str = ""  # a git host's route: Basic with this username (SPEC §6.10)


class RouteTable:
    """The selected connections; built once per run, then only read."""

    def __init__(self, routes: list[Route]):
        self.routes = tuple(routes)
        self._candidates = [(_key(r), e) for r in routes for e in r.api_url]
        self._hosts = [
            (0, e if e.startswith(REGEX_PREFIX) else split_entry(e)[0]) for _, e in self._candidates
        ]
        self._names = constraint_names([e for _, e in self._candidates])
        # Hosts some entry narrows by path: for them the route depends on the path.
        self._path_hosts = {
            strip_default_port(h)
            for e in api_urls(routes)
            if not e.startswith(REGEX_PREFIX)
            for h, prefix in [split_entry(e)]
            if prefix
        }

    def match(self, host: str, path: str = "/") -> tuple[str, str] | None:
        """The (provider, connection) whose entry covers host+path; None if none or a tie."""
        return match_url(self._candidates, host, path)  # type: ignore[return-value]

    def matcher(self, host: str) -> Callable[[str], tuple[str, str] | None]:
        """`match` for one host (an intercepted connection's): path -> route. Looked up
        once when no entry for this host has a path prefix, as is usual."""
        bare = strip_default_port(host)
        if bare in self._path_hosts or bare.rsplit(":", 1)[0] in self._path_hosts:
            return partial(self.match, host)
        route = self.match(host, "/")
        return lambda _path: route

    def unbounded(self) -> list[tuple[str, str]]:
        """(provider, entry) for each regex entry with no fixed domain suffix: the CA
        cannot be constrained to it, so requests to such hosts are never intercepted."""
        return [
            (provider, entry)
            for (provider, *_), entry in self._candidates
            if entry.startswith(REGEX_PREFIX) and not constraint_names([entry])
        ]

    def names(self) -> list[str]:
        """What the run's CA is constrained to: every host (or regex domain) we may intercept."""
        return list(self._names)

    def intercepts(self, host: str) -> bool:
        """Should a CONNECT to `host[:port]` be terminated here (some entry covers the host)?

        Path prefixes are ignored at this point (the path is only known inside TLS); a
        request whose path no entry covers, or that two connections tie on, is then
        forwarded without a token.
        """
        if not name_permitted(self._names, host):
            return False  # outside what the CA can vouch for: a blind tunnel, never a bad cert
        return any(match_url([c], host, "/") is not None for c in self._hosts)


def _key(route: Route) -> tuple[str, ...]:
    """What a match answers: (provider, connection), + the username on a git host."""
    if route.git_user:
        return (route.provider, route.connection, route.git_user)
    return (route.provider, route.connection)


def api_urls(routes: list[Route]) -> list[str]:
    return [e for r in routes for e in r.api_url]


def select_connections(
    connected: list[tuple[str, str, str]],
    only: list[str] | None = None,
    picks: dict[str, str] | None = None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """Which (provider, connection) pairs a run injects for, and warnings to show.

    `connected` is every stored (provider, connection, status). By default each provider
    with a connected connection takes part with `default`, or its only connected one;
    `only` restricts providers; `picks` names a connection per provider (it must exist).
    """
    picks = dict(picks or {})
    by_provider: dict[str, list[tuple[str, str]]] = {}
    for provider, connection, status in connected:
        by_provider.setdefault(provider, []).append((connection, status))
    if only is not None:
        for provider in picks:
            if provider not in only:
                raise UsageError(f"--connection {provider}=... names a provider not in --only")
    wanted = list(only) if only is not None else sorted({*by_provider, *picks})
    chosen: list[tuple[str, str]] = []
    warnings: list[str] = []
    for provider in wanted:
        stored = dict(by_provider.get(provider, []))
        if provider in picks:
            connection = picks[provider]
            if connection not in stored:
                raise NotFound(f"no connection '{connection}' for {provider}")
            chosen.append((provider, connection))
            continue
        live = sorted(c for c, s in stored.items() if s == "connected")
        if "default" in live:
            chosen.append((provider, "default"))
        elif len(live) == 1:
            chosen.append((provider, live[0]))
        elif only is not None and not live:
            raise NotFound(
                f"no connected connection for {provider}: run `authsome login {provider}`"
            )
        elif live:
            warnings.append(
                f"{provider}: several connections ({', '.join(live)}) and none is 'default'; "
                f"pick one with --connection {provider}=NAME"
            )
    return chosen, warnings
