"""Whole-process timing shared by the benchmarks (imported as `_timing`; the benchmarks
run as scripts and put their own directory on sys.path)."""

from __future__ import annotations

import os
import statistics
import subprocess
import time


def timed(argv: list[str], env: dict, cwd: str | None = None) -> tuple[float, float]:
    """Wall and CPU (user+sys, children included) seconds of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode:
        raise SystemExit(f"{argv[:3]} failed with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def interleaved(
    cmds: dict[str, tuple[list[str], dict]],
    runs: int,
    cwd: str | None = None,
    pause: float = 0.0,
) -> dict[str, tuple[float, float]]:
    """One warm-up round (page cache, bytecode; not counted), then `runs` interleaved
    rounds; returns name -> (median wall, median CPU) seconds. `pause` seconds pass
    before each timed process, so that work one leaves behind (the agent making its
    next run's process) is not charged to the next."""
    for argv, env in cmds.values():
        timed(argv, env, cwd)
    got: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, (argv, env) in cmds.items():
            time.sleep(pause)
            got[name].append(timed(argv, env, cwd))
    med = statistics.median
    return {name: (med(w for w, _ in v), med(c for _, c in v)) for name, v in got.items()}


def store_bench_token(helper: str, env: dict) -> None:
    """The benchmarks' connection: provider `bench` (tests/support/providers.BENCH),
    token `tok-bench`, valid for a day."""
    subprocess.run(
        [helper, "store", "bench"],
        input=b'{"access_token": "tok-bench", "expires_in": 86400}',
        env=env,
        check=True,
        capture_output=True,
    )
