"""`authsome-helper get` latency on the shared PostgreSQL vault next to the local file vault.

Both vaults hold the same valid token; 20 interleaved rounds (after one warm-up round)
of `python -c pass`, `authsome-helper get` on the local vault and on the shared one,
plus `python -c "import psycopg"` to show what the driver's import alone costs. Prints
medians. Without --url it starts a private PostgreSQL cluster (Debian's packages, as
the tests do) on loopback and removes it afterwards.

    /work/venv/bin/python benchmarks/vault_latency.py [--runs 20] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HELPER = str(BIN / "authsome-helper")
TOKEN = "tok-bench-shared-vault"


def measure(cases: dict[str, tuple[list[str], dict]], runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_no in range(runs + 1):  # round 0 warms caches and is not counted
        for name, (argv, env) in cases.items():
            start = time.perf_counter()
            r = subprocess.run(argv, env=env, capture_output=True)
            elapsed = time.perf_counter() - start
            if r.returncode != 0 or (argv[0] == HELPER and TOKEN.encode() not in r.stdout):
                raise SystemExit(f"{name}: failed ({r.returncode}): {r.stderr.decode().strip()}")
            if round_no:
                times[name].append(elapsed)
    return times


def run(url: str, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSOME_")}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base.update(
            AUTHSOME_HOME=str(Path(tmp) / "home"),
            AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
        )
        shared = {**base, "AUTHSOME_VAULT_URL": url}
        store = json.dumps({"access_token": TOKEN, "expires_in": 86400}).encode()
        for env in (base, shared):
            subprocess.run(
                [HELPER, "store", "github"], input=store, env=env, check=True, capture_output=True
            )
        cases = {
            "python -c pass": ([sys.executable, "-c", "pass"], base),
            "python -c 'import psycopg'": ([sys.executable, "-c", "import psycopg"], base),
            "helper get (local vault)": ([HELPER, "get", "github"], base),
            "helper get (shared vault)": ([HELPER, "get", "github"], shared),
        }
        times = measure(cases, runs)
    local = statistics.median(times["helper get (local vault)"])
    print(f"{'command':<28} {'median ms':>10} {'p90 ms':>8}  ({runs} interleaved runs)")
    for name, samples in times.items():
        med = statistics.median(samples)
        p90 = sorted(samples)[int(0.9 * (len(samples) - 1))]
        print(f"{name:<28} {med * 1000:>10.1f} {p90 * 1000:>8.1f}")
    extra = statistics.median(times["helper get (shared vault)"]) - local
    print(f"shared vault costs {extra * 1000:.1f} ms more per get than the local vault")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", help="an existing database (its schema is created if missing)")
    args = parser.parse_args()
    if args.url:
        from authsome.vault.backends import postgres

        postgres(args.url).init_schema()
        run(args.url, args.runs)
        return 0
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres.cluster import Cluster

    cluster = Cluster.start()
    try:
        db = cluster.create_database()
        url = cluster.url(db)
        from authsome.vault.backends import postgres

        backend = postgres(url)
        backend.init_schema()
        backend.close()
        print(f"private PostgreSQL cluster on 127.0.0.1:{cluster.port} (loopback TCP, scram)")
        run(url, args.runs)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
