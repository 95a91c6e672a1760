"""Time `authsome-helper get` of a valid stored token as whole processes.

Runs 20 interleaved rounds of `python -c pass`, `authsome-helper get hubspot` without
the agent (AUTHSOME_AGENT=0, every import paid) and through a warm agent (the venv's
real interpreter, no pyenv shim) and prints the medians and ratios.
The key comes from AUTHSOME_MASTER_KEY; with --keyring also from the OS keyring
(run it under scripts/test's environment or a desktop session).

    .venv/bin/python benchmarks/helper_latency.py [--runs 20] [--keyring]
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
from _timing import interleaved, timed

HELPER = str(Path(sys.executable).parent / "authsome-helper")


def wait_agent(home: str) -> None:
    from authsome.agent import client

    deadline = time.monotonic() + 30
    while client.control(home, "status") is None:
        if time.monotonic() > deadline:
            raise SystemExit("the agent did not start")
        time.sleep(0.05)


def stop_agent(home: str) -> None:
    from authsome.agent import client

    client.control(home, "stop")


def bench(env: dict, runs: int) -> dict[str, tuple[float, float]]:
    store = '{"access_token":"bench-token","refresh_token":"r","expires_in":86400}'
    subprocess.run(
        [HELPER, "store", "hubspot"],
        input=store.encode(),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    off, on = dict(env, AUTHSOME_AGENT="0"), dict(env, AUTHSOME_AGENT="1")
    cmds = {
        "python -c pass": ([sys.executable, "-c", "pass"], off),
        "get, no agent": ([HELPER, "get", "hubspot"], off),
        "get, warm agent": ([HELPER, "get", "hubspot"], on),
    }
    timed(cmds["get, warm agent"][0], on)  # starts the agent
    wait_agent(env["AUTHSOME_HOME"])
    try:
        return interleaved(cmds, runs)
    finally:
        stop_agent(env["AUTHSOME_HOME"])


def report(label: str, results: dict[str, tuple[float, float]]) -> None:
    base, base_cpu = results["python -c pass"]
    print(f"{label}:")
    for name, (wall, cpu) in results.items():
        print(
            f"  {name:<18} wall {wall * 1000:6.1f} ms, ratio {wall / base:4.2f}"
            f"   cpu {cpu * 1000:5.1f} ms, ratio {cpu / base_cpu:4.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--keyring", action="store_true", help="also measure the keyring key source"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hl", dir="/tmp") as tmp:
        env = dict(os.environ, AUTHSOME_HOME=os.path.join(tmp, "env"))  # short: AF_UNIX
        # An installed package runs from cached bytecode; without it every run recompiles.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("AUTHSOME_PASSPHRASE", None)
        env["AUTHSOME_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        report("AUTHSOME_MASTER_KEY", bench(env, args.runs))
        if args.keyring:
            env = dict(env, AUTHSOME_HOME=os.path.join(tmp, "keyring"))
            env.pop("AUTHSOME_MASTER_KEY")
            report("OS keyring", bench(env, args.runs))


if __name__ == "__main__":
    main()
