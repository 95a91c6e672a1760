"""User-written `regex:` api_url entries cannot stall matching (#19 item 7).

Python's `re` backtracks. A definition whose regex nests quantifiers (exponential) is
refused when it loads; what is accepted (at most three variable repeats, no nesting,
no backreferences) matches a host of the longest DNS length (253) in well under a
second, and a longer host is never given to a regex at all.
"""

from __future__ import annotations

import time

import pytest

from authsome.errors import ProviderError
from authsome.providers import load_registry
from authsome.providers.matching import MAX_HOST, match_url, regex_problem
from support.providers import oauth_definition, write_definition

REDOS = r"([a-z0-9]+-?)+\.acme\.example"  # 3.2 s at 24 characters before the fix


@pytest.mark.parametrize(
    "pattern",
    [
        REDOS,
        r"(a|aa)+\.x",
        r"(a?a)+\.x",
        r"(?:[a-z0-9-]+\.)*acme\.test",
        r"(\w+)\.\1",
        r"[a-z]*[a-z]*[a-z]*[a-z]*\.x",
    ],
)
def test_backtracking_patterns_are_refused_when_the_definition_loads(home, pattern):
    assert regex_problem(pattern) is not None
    write_definition(home, oauth_definition("slow", ["regex:" + pattern]))
    with pytest.raises(ProviderError, match="regex refused"):
        load_registry(str(home)).get("slow")


@pytest.mark.parametrize(
    "pattern",
    [
        r"[a-z]+\.twilio\.com",
        r".*\.example\.com",
        r"api[0-9]+\.internal",
        r"[a-z0-9.-]+\.acme\.test",
    ],
)
def test_ordinary_patterns_load(pattern):
    assert regex_problem(pattern) is None


# The worst the accepted rules allow: three adjacent overlapping repeats, and a host
# that makes every split fail at the last character.
WORST = [r"[a-z]*[a-z]*[a-z]*\.x", r".*.*.*\.x", r"[a-z0-9.-]+[a-z0-9.-]+[a-z0-9.-]+\.q"]


@pytest.mark.parametrize("pattern", WORST)
def test_accepted_patterns_match_a_longest_host_in_bounded_time(pattern):
    assert regex_problem(pattern) is None
    entries = [("p", "regex:" + pattern)]
    host = "a" * MAX_HOST
    start = time.perf_counter()
    assert match_url(entries, host) is None
    spent = time.perf_counter() - start
    assert spent < 1.0, f"{pattern}: {spent:.3f} s at {MAX_HOST} characters"
    # a longer "host" is not a DNS name: it never reaches the regex
    start = time.perf_counter()
    assert match_url(entries, "a" * 100_000) is None
    assert time.perf_counter() - start < 0.05
