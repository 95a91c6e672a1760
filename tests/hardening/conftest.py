"""Hardening tests: hypothesis profiles and the figures the run reports.

Profiles (select with HYPOTHESIS_PROFILE):
- "ci" (default): small example counts so the whole directory stays within ~2 minutes
  on two cores; no example database written into the checkout.
- "long": thousands of examples per parser, bigger soak and contention runs:
      HYPOTHESIS_PROFILE=long scripts/test tests/hardening -p no:cacheprovider
Each fuzz test calls fuzzkit.tally(parser) per input, and the run ends with a table of
inputs tried per parser (also written as JSON to $AUTHSOME_HARDENING_REPORT if set).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

from hardening import fuzzkit

_quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=timedelta(seconds=2),  # a parser slower than this on a small input hangs
    suppress_health_check=_quiet,
    database=None,
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=timedelta(seconds=5),
    suppress_health_check=_quiet,
    print_blob=True,
)
settings.load_profile(fuzzkit.PROFILE)


def pytest_terminal_summary(terminalreporter) -> None:
    figures = dict(fuzzkit.COUNTS) | {f"_{k}": v for k, v in fuzzkit.FIGURES.items()}
    if not figures:
        return
    terminalreporter.section(f"hardening figures (profile {fuzzkit.PROFILE})")
    for name in sorted(figures):
        terminalreporter.write_line(f"{name:45} {figures[name]}")
    out = os.environ.get("AUTHSOME_HARDENING_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump({"profile": fuzzkit.PROFILE, "figures": figures}, f, indent=2, default=str)
