"""Whole-process latency of each adapter's `get` for a valid cached token.

Runs every command 20 times, interleaved, next to `python -c pass` (same interpreter),
and prints medians and ratios: each adapter cold (AUTHSOME_AGENT=0, every import paid,
which the exit status judges) and through a warm agent. The budget (issue 6) is 2.5x
`python -c pass`.

    /work/venv/bin/python benchmarks/adapters_latency.py [--runs N] [--keyring]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _timing import store_bench_token

from support.providers import BENCH, write_definition

BIN = Path(sys.executable).parent
BUDGET = 2.5


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
    parser.add_argument(
        "--keyring",
        action="store_true",
        help="key from the OS keyring, not AUTHSOME_MASTER_KEY (run under scripts/test's setup)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="al", dir="/tmp") as tmp:  # short: AF_UNIX
        home = Path(tmp) / "home"
        write_definition(home, BENCH)
        env = dict(os.environ)
        env.update(
            AUTHSOME_HOME=str(home),
            AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        )
        env.pop("AUTHSOME_PASSPHRASE", None)
        if args.keyring:
            env.pop("AUTHSOME_MASTER_KEY")
        # An installed package has its bytecode cached; a session with
        # PYTHONDONTWRITEBYTECODE would recompile every module on every run instead.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        store_bench_token(str(BIN / "authsome-helper"), env)
        off, on = dict(env, AUTHSOME_AGENT="0"), dict(env, AUTHSOME_AGENT="1")
        cmds = {}
        for name, (argv, stdin, expect) in commands().items():
            cmds[name] = (argv, stdin, expect, off)
            if name != "python -c pass":
                cmds[name + " (agent)"] = (argv, stdin, expect, on)
        from authsome.agent import client

        subprocess.run([str(BIN / "authsome-helper"), "version"], env=on, capture_output=True)
        deadline = time.monotonic() + 30
        while client.control(str(home), "status") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs + 1):  # the first round warms the page cache, not counted
            for name, (argv, stdin, expect, cmd_env) in cmds.items():
                start = time.perf_counter()
                r = subprocess.run(argv, input=stdin, env=cmd_env, capture_output=True)
                elapsed = time.perf_counter() - start
                if r.returncode != 0 or expect not in r.stdout:
                    print(f"{name}: unexpected answer ({r.returncode}): {r.stderr.decode()}")
                    return 1
                times[name].append(elapsed)
        client.control(str(home), "stop")
        for name in times:
            times[name] = times[name][1:]
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<30} {'median ms':>10} {'ratio':>7}  (budget {BUDGET}x, {args.runs} runs)")
    worst, worst_agent = 0.0, 0.0
    for name, samples in times.items():
        med = statistics.median(samples)
        ratio = med / base
        if name.endswith("(agent)"):
            worst_agent = max(worst_agent, ratio)
        elif name != "python -c pass":
            worst = max(worst, ratio)
        print(f"{name:<30} {med * 1000:>10.1f} {ratio:>6.2f}x")
    print(f"worst adapter ratio: {worst:.2f}x ({'within' if worst <= BUDGET else 'OVER'} budget)")
    print(f"worst with a warm agent: {worst_agent:.2f}x")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
