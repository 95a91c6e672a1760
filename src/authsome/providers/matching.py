"""Which provider's `api_url` covers a request: a pure function, shared by proxy and helpers.

Rules (SPEC §3): an entry is a host, a host with a path prefix (`api.example.com/v2`), or
`regex:<pattern>` (full match on the host). Exact hosts beat regexes, a longer path prefix
beats a shorter one, and a tie between different keys is ambiguous: nothing matches.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from functools import lru_cache

REGEX_PREFIX = "regex:"
MAX_HOST = 253  # a DNS name's longest text form: regexes never see a longer host
MAX_VARIABLE_REPEATS = 3  # `*`, `+`, `{m,n}`: three side by side cost ~20 ms at 253 chars


def split_entry(entry: str) -> tuple[str, str]:
    """`host[:port]/prefix` -> (host[:port] lowercased, '/prefix' without trailing slash)."""
    entry = entry.strip()
    for scheme in ("https://", "http://"):
        if entry.lower().startswith(scheme):
            entry = entry[len(scheme) :]
    host, slash, rest = entry.partition("/")
    prefix = ("/" + rest).rstrip("/") if slash else ""
    return host.lower().rstrip("."), prefix


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_user_regex(pattern, re.IGNORECASE)


def compile_user_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A regex from a provider file: re.error if bad, and quiet about the FutureWarnings
    `re` prints for odd but valid patterns (`[[`), which the user did not ask to see."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return re.compile(pattern, flags)


class _Refused(Exception):
    pass


def regex_problem(pattern: str) -> str | None:
    """None if `pattern` is a regex we accept from a provider file, else why not.

    Python's `re` backtracks: a quantifier (even `?`) or alternatives inside a repeated
    group (`([a-z0-9]+-?)+`, `(a|aa)+`) is exponential in the host's length, so it is
    refused, as are backreferences; at most
    MAX_VARIABLE_REPEATS variable repeats keep the polynomial worst case small for a
    host of MAX_HOST characters (tests/providers/test_regex_bound.py shows the bound).
    """
    import warnings
    from re import _constants as c
    from re import _parser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"bad regex: {exc}"
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}
    variable = 0

    def walk(items, in_repeat: bool) -> None:
        nonlocal variable
        for op, av in items:
            if op in repeats:
                low, high, inner = av
                if in_repeat and (high > 1 or low != high):
                    raise _Refused(
                        "a quantifier inside a quantifier (exponential backtracking; "
                        "for any subdomain write [a-z0-9.-]+\\.example\\.com)"
                    )
                if low != high:
                    variable += 1
                walk(inner, in_repeat or high > 1)
            elif op is c.SUBPATTERN:
                walk(av[3], in_repeat)
            elif op is c.BRANCH:
                if in_repeat:  # (a|aa)+ backtracks exponentially as ([a]+)+ does
                    raise _Refused("alternatives inside a quantifier (exponential backtracking)")
                for branch in av[1]:
                    walk(branch, in_repeat)
            elif op in (c.ASSERT, c.ASSERT_NOT):
                walk(av[1], in_repeat)
            elif op is getattr(c, "ATOMIC_GROUP", None):
                walk(av, in_repeat)
            elif op in (c.GROUPREF, c.GROUPREF_EXISTS):
                raise _Refused("backreferences are not accepted")

    try:
        walk(tree, False)
    except _Refused as exc:
        return f"regex refused: {exc}"
    except RecursionError:
        return "regex refused: nested too deeply"
    if variable > MAX_VARIABLE_REPEATS:
        return f"regex refused: more than {MAX_VARIABLE_REPEATS} variable repeats (*, +, {{m,n}})"
    return None


def check_entry(entry: str) -> str | None:
    """None if `entry` is a usable api_url entry, else what is wrong with it."""
    if not isinstance(entry, str) or not entry.strip():
        return "empty entry"
    if entry.startswith(REGEX_PREFIX):
        problem = regex_problem(entry[len(REGEX_PREFIX) :])
        if problem is not None:
            return problem
        try:
            _compiled(entry[len(REGEX_PREFIX) :])
        except re.error as exc:
            return f"bad regex: {exc}"
        return None
    host, _ = split_entry(entry)
    if not host or any(c in host for c in " \t?#@"):
        return f"bad host '{host}'"
    return None


def _path_matches(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


def strip_default_port(host: str) -> str:
    """`host` lower-cased, without a trailing dot or the default port (:443, :80)."""
    host = host.lower().rstrip(".")
    for suffix in (":443", ":80"):
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def match_url(
    candidates: Iterable[tuple[Hashable, str]], host: str, path: str = "/"
) -> Hashable | None:
    """The key of the best candidate whose entry covers host+path, or None (none or a tie)."""
    host = strip_default_port(host)
    bare_host = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
    path = path.split("?", 1)[0] or "/"
    best: tuple[int, int] | None = None
    winners: set[Hashable] = set()
    for key, entry in candidates:
        if entry.startswith(REGEX_PREFIX):
            try:
                ok = (
                    len(bare_host) <= MAX_HOST
                    and _compiled(entry[len(REGEX_PREFIX) :]).fullmatch(bare_host) is not None
                )
            except re.error:
                ok = False
            rank = (0, 0) if ok else None
        else:
            entry_host, prefix = split_entry(entry)
            entry_host = strip_default_port(entry_host)
            ok = entry_host in (host, bare_host) and _path_matches(path, prefix)
            rank = (1, len(prefix)) if ok else None
        if rank is None:
            continue
        if best is None or rank > best:
            best, winners = rank, {key}
        elif rank == best:
            winners.add(key)
    return next(iter(winners)) if len(winners) == 1 else None
