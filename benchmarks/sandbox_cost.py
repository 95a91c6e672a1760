"""What --sandbox adds to `authsome run`: `authsome run --sandbox -- true` next to
`authsome run -- true`, whole processes, interleaved, medians (issue 13's target: at
most +30 ms), both in-process (AUTHSOME_AGENT=0) and through the warm agent (started
first, warm: each run waits `--pause` seconds so that the agent's next run's process is
made ahead). A fresh home with one stored token; a random key in AUTHSOME_MASTER_KEY.

    .venv/bin/python benchmarks/sandbox_cost.py [--runs 21] [--pause 0.1]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _timing import interleaved, store_bench_token
from start_up import start_agent

from support.providers import BENCH, write_definition

BIN = Path(sys.executable).parent
TARGET_MS = 30.0
MODES = {"in-process": "0", "warm agent": "1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sc", dir="/tmp") as tmp:  # short: AF_UNIX
        home = Path(tmp) / "home"
        write_definition(home, BENCH)
        env = dict(os.environ, AUTHSOME_HOME=str(home), AUTHSOME_AGENT="1")
        env["AUTHSOME_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        env.pop("AUTHSOME_PASSPHRASE", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: from cached bytecode
        store_bench_token(str(BIN / "authsome-helper"), env)
        authsome = str(BIN / "authsome")
        cmds = {}
        for mode, agent in MODES.items():
            mode_env = dict(env, AUTHSOME_AGENT=agent)
            for opts in ([], ["--sandbox"]):
                name = f"authsome run {' '.join([*opts, '--'])} true, {mode}"
                cmds[name] = ([authsome, "run", *opts, "--", "true"], mode_env)
        start_agent(env)
        try:
            got = interleaved(cmds, args.runs, pause=args.pause)
        finally:
            from authsome.agent import client

            status = client.control(str(home), "status") or {}
            client.control(str(home), "stop")
    load = os.getloadavg()
    print(
        f"medians of {args.runs} interleaved runs, {args.pause:g} s apart; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    if "runs_ahead" in status:
        print(f"agent: {status['served']} requests, {status['runs_ahead']} runs made ahead")
    for name, (wall, cpu) in got.items():
        print(f"{name:<44} {wall * 1000:7.1f} ms wall  {cpu * 1000:7.1f} ms cpu")
    walls = [wall * 1000 for wall, _ in got.values()]
    for i, mode in enumerate(MODES):
        plain, boxed = walls[2 * i], walls[2 * i + 1]
        verdict = "ok" if boxed - plain <= TARGET_MS else "over"
        label = f"--sandbox adds, {mode}"
        print(f"{label:<44} {boxed - plain:7.1f} ms (target <= {TARGET_MS:g}: {verdict})")
    print(f"python {sys.executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
