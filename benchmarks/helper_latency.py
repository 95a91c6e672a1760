"""Time `authsome-helper get` of a valid stored token as whole processes.

Runs 20 interleaved rounds of `python -c pass` and `authsome-helper get hubspot`
(the venv's real interpreter, no pyenv shim) and prints both medians and the ratio.
The key comes from AUTHSOME_MASTER_KEY; with --keyring also from the OS keyring
(run it under scripts/test's environment or a desktop session).

    .venv/bin/python benchmarks/helper_latency.py [--runs 20] [--keyring]
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

HELPER = str(Path(sys.executable).parent / "authsome-helper")


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """Wall time and CPU time (user+sys) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def bench(env: dict, runs: int) -> tuple[float, float, float, float]:
    store = '{"access_token":"bench-token","refresh_token":"r","expires_in":86400}'
    subprocess.run(
        [HELPER, "store", "hubspot"],
        input=store.encode(),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cmds = {"pass": [sys.executable, "-c", "pass"], "get": [HELPER, "get", "hubspot"]}
    for cmd in cmds.values():  # warm the page cache and .pyc files
        timed(cmd, env)
    wall: dict[str, list[float]] = {k: [] for k in cmds}
    cpu: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            w, c = timed(cmd, env)
            wall[name].append(w)
            cpu[name].append(c)
    med = statistics.median
    return med(wall["pass"]), med(wall["get"]), med(cpu["pass"]), med(cpu["get"])


def report(label: str, base: float, get: float, base_cpu: float, get_cpu: float) -> None:
    print(
        f"{label:<20} wall: python -c pass {base * 1000:6.1f} ms, helper get {get * 1000:6.1f} ms,"
        f" ratio {get / base:4.2f}   cpu: {base_cpu * 1000:5.1f} / {get_cpu * 1000:5.1f} ms,"
        f" ratio {get_cpu / base_cpu:4.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--keyring", action="store_true", help="also measure the keyring key source"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, AUTHSOME_HOME=os.path.join(tmp, "env"))
        # An installed package runs from cached bytecode; without it every run recompiles.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("AUTHSOME_PASSPHRASE", None)
        env["AUTHSOME_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        report("AUTHSOME_MASTER_KEY", *bench(env, args.runs))
        if args.keyring:
            env = dict(env, AUTHSOME_HOME=os.path.join(tmp, "keyring"))
            env.pop("AUTHSOME_MASTER_KEY")
            report("OS keyring", *bench(env, args.runs))


if __name__ == "__main__":
    main()
