"""Shared pieces of the hardening tests: hypothesis profile sizes and the tally of
inputs each parser was given (printed at the end of the run, see conftest.py).
"""

from __future__ import annotations

import collections
import os

# Inputs tried per parser, as the profile decides; conftest prints the real counts.
COUNTS: collections.Counter[str] = collections.Counter()

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
LONG = PROFILE == "long"


def size(ci: int, long: int) -> int:
    """A count for this profile: CI keeps the suite fast, long runs nightly-size."""
    return long if LONG else ci


def tally(parser: str) -> None:
    COUNTS[parser] += 1


# Strings that break naive parsers: deep nesting (RecursionError), huge numbers,
# NULs, lone surrogates in JSON escapes, CR/LF injection, non-UTF-8 bytes.
DEEP_JSON = [b"[" * 100_000, b'{"a":' * 50_000, b"[" * 3_000 + b"]" * 3_000]
NASTY_BYTES = [
    b"",
    b"\x00",
    b"\xff\xfe\xfd",
    b'{"provider": "\\ud800"}',
    b'{"min_ttl": 1e999}',
    b'{"min_ttl": NaN}',
    b'{"min_ttl": 99999999999999999999999999999999999}',
    b'{"provider": "a\\u0000b"}',
    b"null",
    b"[]",
    b'"x"',
    b"\r\n\r\n",
    b"protocol=https\nhost=a\rb\n",
    *DEEP_JSON,
]

# Other figures (soak requests, faults, processes...), reported the same way.
FIGURES: dict[str, object] = {}
