"""Start-up of the everyday commands as whole processes, next to the bare interpreter.

Each command runs `--runs` times, interleaved with `python -c pass` of the same virtual
environment (sys.executable, named in the output: a pyenv shim or a base interpreter with
`.pth` imports would skew every ratio), after one warm-up round; prints the median wall
time and its ratio to `python -c pass`, with issue 17's target. The home is a fresh
temporary one with a stored token for one provider; the key comes from
AUTHSOME_MASTER_KEY. The CLI rows run with the warm agent available, as a user's would.

    .venv/bin/python benchmarks/start_up.py [--runs 15] [--only SUBSTRING] [--pause 0.1]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _timing import interleaved, store_bench_token

from support.providers import BENCH, write_definition

BIN = Path(sys.executable).parent
BASE = "python -c pass"


def rows(env: dict) -> dict[str, tuple[list[str], dict, float | None]]:
    """name -> (argv, env, target ratio)."""
    authsome, helper = str(BIN / "authsome"), str(BIN / "authsome-helper")
    off = dict(env, AUTHSOME_AGENT="0")
    return {
        BASE: ([sys.executable, "-c", "pass"], env, None),
        "authsome run -- true": ([authsome, "run", "--", "true"], env, 2.0),
        "authsome --version": ([authsome, "--version"], env, 1.5),
        "authsome --help": ([authsome, "--help"], env, None),  # no target in the issue
        "authsome get NAME --field status": (
            [authsome, "get", "bench", "--field", "status"],
            env,
            2.0,
        ),
        "authsome list": ([authsome, "list"], env, 2.0),
        "authsome-helper get NAME, warm agent": ([helper, "get", "bench"], env, 1.4),
        "authsome-helper get NAME, AUTHSOME_AGENT=0": ([helper, "get", "bench"], off, 2.5),
    }


def start_agent(env: dict) -> None:
    from authsome.agent import client

    subprocess.run([str(BIN / "authsome-helper"), "version"], env=env, capture_output=True)
    deadline = time.monotonic() + 30
    while client.control(env["AUTHSOME_HOME"], "status") is None:
        if time.monotonic() > deadline:
            raise SystemExit("the agent did not start")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", help="only the rows whose name contains this")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.1,
        help="seconds between processes (default 0.1; 0: back to back, when what the "
        "agent does after a run overlaps the next process)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="su", dir="/tmp") as tmp:  # short: AF_UNIX
        home = Path(tmp) / "home"
        write_definition(home, BENCH)
        env = dict(os.environ, AUTHSOME_HOME=str(home), AUTHSOME_AGENT="1")
        env["AUTHSOME_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        env.pop("AUTHSOME_PASSPHRASE", None)
        # An installed package runs from cached bytecode; without it every run recompiles.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        store_bench_token(str(BIN / "authsome-helper"), env)
        table = rows(env)
        if args.only:
            table = {k: v for k, v in table.items() if k == BASE or args.only in k}
        start_agent(env)
        try:
            cmds = {name: (argv, cmd_env) for name, (argv, cmd_env, _) in table.items()}
            results = interleaved(cmds, args.runs, pause=args.pause)
        finally:
            from authsome.agent import client

            status = client.control(str(home), "status") or {}
            client.control(str(home), "stop")
    base = results[BASE][0]
    load = os.getloadavg()
    print(
        f"{BASE} = {sys.executable} -c pass; medians of {args.runs} interleaved runs, "
        f"{args.pause:g} s apart; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    if "runs_ahead" in status:
        ahead = status["runs_ahead"]
        print(f"agent: {status['served']} requests, {ahead} runs in a process made ahead")
    print(f"{'command':<44} {'median':>9} {'ratio':>7} {'target':>7}")
    for name, (wall, _cpu) in results.items():
        target = table[name][2]
        goal = f"≤ {target}x" if target else ""
        print(f"{name:<44} {wall * 1000:6.1f} ms {wall / base:6.2f}x {goal:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
