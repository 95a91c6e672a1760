"""Responses stream through the proxy: server-sent events one by one, large bodies in
bounded memory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from proxy.conftest import API_HOST, resolve_args
from support.cli import tool

PY = sys.executable

SSE_CLIENT = r"""
import sys, httpx
with httpx.stream("GET", sys.argv[1], timeout=30) as r:
    for line in r.iter_lines():
        if line.startswith("data:"):
            print(line, flush=True)
"""


def test_sse_arrives_event_by_event(vault, upstream, mode):
    url = f"https://{API_HOST}:{upstream.port}/sse?n=3"
    proc = subprocess.Popen(
        [
            tool("authsome"),
            "run",
            *mode,
            *resolve_args(upstream.port),
            "--",
            PY,
            "-c",
            SSE_CLIENT,
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The upstream holds the last event until we release it: the first two must
        # reach the child before that, or this readline waits for the 20 s timeout.
        assert proc.stdout.readline().strip() == "data: event 1"
        assert proc.stdout.readline().strip() == "data: event 2"
        assert upstream.sse_waited is None  # still holding the last event
        upstream.release.set()
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert rest.strip() == "data: event 3"
    assert upstream.sse_waited is not None and upstream.sse_waited < 15


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bytes", "chunked"])
def test_200mb_download_in_bounded_memory(kind, vault, upstream, mode):
    size = 200 * 1024 * 1024
    url = f"https://{API_HOST}:{upstream.port}/{kind}?n={size}"
    # $PPID of the shell is `authsome run`, whose thread runs the proxy: its peak RSS.
    script = (
        f'curl -sS -o /dev/null -w "%{{size_download}}\\n" "{url}" && grep VmHWM /proc/$PPID/status'
    )
    res = subprocess.run(
        [tool("authsome"), "run", *mode, *resolve_args(upstream.port), "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    downloaded, hwm = res.stdout.splitlines()
    assert int(downloaded) == size
    peak_kb = int(hwm.split()[1])
    print(f"proxy peak RSS {peak_kb} kB")
    assert peak_kb < 100 * 1024, f"proxy peak RSS {peak_kb} kB"
