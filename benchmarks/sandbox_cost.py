"""What --sandbox adds to `authsome run`: `authsome run --sandbox -- true` next to
`authsome run -- true`, whole processes, interleaved, medians (issue 13's target: at
most +30 ms). A fresh home with one stored token; the key from AUTHSOME_MASTER_KEY.

    .venv/bin/python benchmarks/sandbox_cost.py [--runs 21]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _timing import interleaved

from support.providers import BENCH, write_definition

BIN = Path(sys.executable).parent
TARGET_MS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = dict(
            os.environ,
            AUTHSOME_HOME=str(home),
            AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
            AUTHSOME_AGENT="0",
        )
        write_definition(home, BENCH)
        token = '{"access_token": "bench-token", "expires_in": 3600}'
        subprocess.run(
            [str(BIN / "authsome-helper"), "store", "bench"], input=token.encode(), env=env,
            check=True, capture_output=True,
        )  # fmt: skip
        authsome = str(BIN / "authsome")
        cmds = {
            "authsome run -- true": ([authsome, "run", "--", "true"], env),
            "authsome run --sandbox -- true": ([authsome, "run", "--sandbox", "--", "true"], env),
        }
        got = interleaved(cmds, args.runs)
    plain, boxed = (got[name][0] * 1000 for name in cmds)
    for name, (wall, cpu) in got.items():
        print(f"{name:<34} {wall * 1000:7.1f} ms wall  {cpu * 1000:7.1f} ms cpu")
    verdict = "ok" if boxed - plain <= TARGET_MS else "over"
    print(f"{'--sandbox adds':<34} {boxed - plain:7.1f} ms (target <= {TARGET_MS:g}: {verdict})")
    print(f"medians of {args.runs} interleaved runs; python {sys.executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
