"""Whole-process latency of each adapter's `get` for a valid cached token.

Runs every command 20 times, interleaved, next to `python -c pass` (same interpreter),
and prints medians and ratios. The budget (issue 6) is 2.5x `python -c pass`.

    /work/venv/bin/python benchmarks/adapters_latency.py [--runs N]
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

BIN = Path(sys.executable).parent
BUDGET = 2.5

PROVIDER = {
    "schema_version": 1,
    "name": "bench",
    "display_name": "Bench",
    "description": "benchmark provider",
    "auth_type": "oauth2",
    "flow": "pkce",
    "api_url": ["api.bench.test"],
    "oauth": {
        "authorization_url": "https://auth.bench.test/authorize",
        "token_url": "https://auth.bench.test/token",
        "scopes": ["read"],
        "pkce": True,
    },
    "api_key": None,
    "env": {"access_token": "BENCH_TOKEN"},
    "git_hosts": [{"host": "git.bench.test", "username": "x-access-token"}],
    "docker_registries": [{"registry": "registry.bench.test", "username": "bot"}],
}


def commands() -> dict[str, tuple[list[str], bytes, bytes]]:
    """name -> (argv, stdin, a substring the answer must contain)."""

    def tool(name: str) -> str:
        return str(BIN / name)

    return {
        "python -c pass": ([sys.executable, "-c", "pass"], b"", b""),
        "authsome-helper get": ([tool("authsome-helper"), "get", "bench"], b"", b"tok-bench"),
        "git get": (
            [tool("git-credential-authsome"), "get"],
            b"protocol=https\nhost=git.bench.test\n\n",
            b"password=tok-bench",
        ),
        "docker get": (
            [tool("docker-credential-authsome"), "get"],
            b"registry.bench.test",
            b'"Secret":"tok-bench"',
        ),
        "k8s": ([tool("authsome-helper"), "k8s", "bench"], b"", b'"token": "tok-bench"'),
        "headers": (
            [tool("authsome-helper"), "headers"],
            b'{"uri": "https://api.bench.test/x"}',
            b"Bearer tok-bench",
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / "providers").mkdir(parents=True, mode=0o700)
        (home / "providers" / "bench.json").write_text(json.dumps(PROVIDER))
        env = dict(os.environ)
        env.update(
            AUTHSOME_HOME=str(home),
            AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        )
        env.pop("AUTHSOME_PASSPHRASE", None)
        # An installed package has its bytecode cached; a session with
        # PYTHONDONTWRITEBYTECODE would recompile every module on every run instead.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        subprocess.run(
            [str(BIN / "authsome-helper"), "store", "bench"],
            input=b'{"access_token": "tok-bench", "expires_in": 86400}',
            env=env,
            check=True,
            capture_output=True,
        )
        cmds = commands()
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs + 1):  # the first round warms the page cache, not counted
            for name, (argv, stdin, expect) in cmds.items():
                start = time.perf_counter()
                r = subprocess.run(argv, input=stdin, env=env, capture_output=True)
                elapsed = time.perf_counter() - start
                if r.returncode != 0 or expect not in r.stdout:
                    print(f"{name}: unexpected answer ({r.returncode}): {r.stderr.decode()}")
                    return 1
                times[name].append(elapsed)
        for name in times:
            times[name] = times[name][1:]
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<22} {'median ms':>10} {'ratio':>7}  (budget {BUDGET}x, {args.runs} runs)")
    worst = 0.0
    for name, samples in times.items():
        med = statistics.median(samples)
        ratio = med / base
        if name != "python -c pass":
            worst = max(worst, ratio)
        print(f"{name:<22} {med * 1000:>10.1f} {ratio:>6.2f}x")
    print(f"worst adapter ratio: {worst:.2f}x ({'within' if worst <= BUDGET else 'OVER'} budget)")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
