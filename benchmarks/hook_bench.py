"""What the shell hook costs: per unchanged prompt, and per directory entry.

In one run, for bash, zsh and fish (those installed) and for direnv's bash hook:

- the unchanged prompt: a shell script installs the hook, enters an approved project
  (one worker run), then runs the prompt hook N times the way the prompt does
  (bash: `eval "$PROMPT_COMMAND"`; zsh: each of `$precmd_functions`; fish:
  `emit fish_prompt`). The per-prompt cost is (time with N prompts - time with 0) / N,
  whole processes, wall and CPU. direnv's hook runs in a directory without .envrc.
- a directory entry that exports a token: the worker process alone, as the hook
  starts it, next to `python -c pass` (interleaved rounds, medians).

Bytecode is cached in a temporary PYTHONPYCACHEPREFIX, as in an installed package.

    /work/venv/bin/python benchmarks/hook_bench.py [--prompts 1000] [--runs 20]
"""

from __future__ import annotations

import argparse
import base64
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import interleaved, timed

BIN = Path(sys.executable).parent
AUTHSOME = str(BIN / "authsome")
KEY = "sk-bench-" + "x" * 40


def prompt_script(shell: str, hook: str, project: str, n: int) -> list[str]:
    """argv of a shell that installs `hook`, enters `project`, then runs n prompts."""
    q = shlex.quote
    if shell == "fish":
        body = f"{hook}\ncd {q(project)}\nemit fish_prompt\n"
        body += f"for i in (seq {n}); emit fish_prompt; end\n" if n else ""
        return ["fish", "--no-config", "-c", body]
    if shell == "zsh":
        run = "for __f in $precmd_functions; do $__f; done"
        body = f"{hook}\ncd {q(project)}\n{run}\nfor i in {{1..{n}}}; do {run}; done\n"
        return ["zsh", "-f", "-c", body if n else body.rsplit("for i", 1)[0]]
    body = f'{hook}\ncd {q(project)}\neval "$PROMPT_COMMAND"\n'
    body += f'for ((i = 0; i < {n}; i++)); do eval "$PROMPT_COMMAND"; done\n'
    return ["bash", "--norc", "--noprofile", "-c", body]


def per_prompt(shell: str, hook: str, project: str, n: int, env: dict, rounds: int = 3):
    """Per-prompt (wall, cpu) seconds: the N-prompt run minus the 0-prompt run."""
    with_n, without = [], []
    for _ in range(rounds):
        with_n.append(timed(prompt_script(shell, hook, project, n), env, project))
        without.append(timed(prompt_script(shell, hook, project, 0), env, project))
    med = statistics.median
    wall = (med(w for w, _ in with_n) - med(w for w, _ in without)) / n
    cpu = (med(c for _, c in with_n) - med(c for _, c in without)) / n
    return wall, cpu, med(w for w, _ in with_n)


def setup(tmp: Path) -> tuple[dict, Path, Path]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        AUTHSOME_HOME=str(tmp / "home"),
        AUTHSOME_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        PYTHONPYCACHEPREFIX=str(tmp / "pycache"),
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    for var in ("AUTHSOME_PASSPHRASE", "PROMPT_COMMAND", "DIRENV_DIR", "DIRENV_DIFF"):
        env.pop(var, None)
    subprocess.run(
        [AUTHSOME, "login", "openai", "--api-key-stdin"],
        input=KEY.encode(), env=env, check=True, capture_output=True,
    )  # fmt: skip
    project = tmp / "project"
    project.mkdir()
    (project / ".authsome.toml").write_text('[env]\nOPENAI_API_KEY = "openai"\n')
    subprocess.run([AUTHSOME, "allow", str(project)], env=env, check=True, capture_output=True)
    empty = tmp / "no-envrc"
    empty.mkdir()
    return env, project, empty


def worker_argv(hook: str) -> list[str]:
    """The worker command line exactly as the bash hook starts it."""
    line = next(x for x in hook.splitlines() if "_hook-env bash" in x)
    words = shlex.split(line.split("$(", 1)[1].split(" _hook-env")[0])
    return [*words, "_hook-env", "bash"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hook-bench-"))
    try:
        env, project, empty = setup(tmp)
        hooks = {}
        for shell in ("bash", "zsh", "fish"):
            if shutil.which(shell):
                hooks[shell] = subprocess.run(
                    [AUTHSOME, "hook", shell], env=env, check=True, capture_output=True, text=True
                ).stdout
        n = args.prompts
        print(f"unchanged prompt, {n} prompts (per prompt = (N prompts - 0 prompts) / N):")
        print(f"  {'hook':<26}{'per prompt wall':>16}{'per prompt CPU':>16}{'whole run':>12}")
        rows = {}
        for shell, hook in hooks.items():
            wall, cpu, whole = per_prompt(shell, hook, str(project), n, env)
            rows[shell] = wall
            print(f"  {'authsome ' + shell:<26}{wall * 1e6:>13.1f} us{cpu * 1e6:>13.1f} us"
                  f"{whole:>10.2f} s")  # fmt: skip
        if shutil.which("direnv"):
            direnv_hook = subprocess.run(
                ["direnv", "hook", "bash"], env=env, check=True, capture_output=True, text=True
            ).stdout
            wall, cpu, whole = per_prompt("bash", direnv_hook, str(empty), n, env, rounds=1)
            rows["direnv"] = wall
            print(f"  {'direnv bash (no .envrc)':<26}{wall * 1e6:>13.1f} us{cpu * 1e6:>13.1f} us"
                  f"{whole:>10.2f} s")  # fmt: skip
            if "bash" in rows:
                print(f"  authsome bash / direnv bash: {rows['bash'] / rows['direnv']:.4f}")
        else:
            print("  direnv: not installed (apt-get install direnv)")

        argv = [*worker_argv(hooks["bash"]), str(project / ".authsome.toml"), "", "", ""]
        cmds = {"python -c pass": [sys.executable, "-c", "pass"], "worker (entry)": argv}
        got = interleaved({k: (v, env) for k, v in cmds.items()}, args.runs, str(project))
        print(f"\ndirectory entry exporting a token ({args.runs} interleaved runs, medians):")
        for name, (wall, cpu) in got.items():
            print(f"  {name:<26}{wall * 1e3:>10.1f} ms wall{cpu * 1e3:>10.1f} ms CPU")
        ratio = got["worker (entry)"][0] / got["python -c pass"][0]
        print(f"  worker / python -c pass: {ratio:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
