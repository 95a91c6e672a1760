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


def check_entry(entry: str) -> str | None:
    """None if `entry` is a usable api_url entry, else what is wrong with it."""
    if not isinstance(entry, str) or not entry.strip():
        return "empty entry"
    if entry.startswith(REGEX_PREFIX):
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


def _strip_default_port(host: str) -> str:
    host = host.lower().rstrip(".")
    for suffix in (":443", ":80"):
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def match_url(
    candidates: Iterable[tuple[Hashable, str]], host: str, path: str = "/"
) -> Hashable | None:
    """The key of the best candidate whose entry covers host+path, or None (none or a tie)."""
    host = _strip_default_port(host)
    bare_host = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
    path = path.split("?", 1)[0] or "/"
    best: tuple[int, int] | None = None
    winners: set[Hashable] = set()
    for key, entry in candidates:
        if entry.startswith(REGEX_PREFIX):
            try:
                ok = _compiled(entry[len(REGEX_PREFIX) :]).fullmatch(bare_host) is not None
            except re.error:
                ok = False
            rank = (0, 0) if ok else None
        else:
            entry_host, prefix = split_entry(entry)
            entry_host = _strip_default_port(entry_host)
            ok = entry_host in (host, bare_host) and _path_matches(path, prefix)
            rank = (1, len(prefix)) if ok else None
        if rank is None:
            continue
        if best is None or rank > best:
            best, winners = rank, {key}
        elif rank == best:
            winners.add(key)
    return next(iter(winners)) if len(winners) == 1 else None
