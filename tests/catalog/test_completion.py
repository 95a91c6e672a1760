"""`authsome completion bash|zsh|fish` loaded in the real shells: commands, flags, choices
and provider names (bundled and the user's own) complete."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from catalog.conftest import templated_provider, write_definition
from support.cli import tool

AUTHSOME = tool("authsome")


def script(shell: str) -> str:
    res = subprocess.run([AUTHSOME, "completion", shell], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


def need(shell: str) -> str:
    path = shutil.which(shell)
    if not path:
        pytest.skip(f"{shell} is not installed")
    return path


@pytest.fixture
def custom(home):
    """A user-defined provider, which must complete like the bundled ones."""
    write_definition(home, templated_provider("hubtenant"))
    return home


# -- bash ----------------------------------------------------------------------------------


def bash_complete(words: list[str], spec: str) -> list[str]:
    """COMPREPLY for the command line `words` (the last word is the one being completed)."""
    body = (
        spec
        + "\nCOMP_WORDS=("
        + " ".join(f"'{w}'" for w in words)
        + f"); COMP_CWORD={len(words) - 1}; _authsome; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    res = subprocess.run(
        [need("bash"), "--norc", "--noprofile", "-c", body], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    return [w for w in res.stdout.splitlines() if w]


def test_bash_registers_and_completes(custom):
    spec = script("bash")
    res = subprocess.run(
        [need("bash"), "--norc", "--noprofile", "-c", spec + "\ncomplete -p authsome"],
        capture_output=True,
        text=True,
    )
    assert res.stdout.strip() == "complete -F _authsome authsome"
    assert bash_complete(["authsome", "lo"], spec) == ["login", "logout", "log"]
    assert bash_complete(["authsome", "login", "hub"], spec) == ["hubspot", "hubtenant"]
    assert "openai" in bash_complete(["authsome", "export", "github", "open"], spec)
    assert bash_complete(["authsome", "login", "--fl"], spec) == ["--flow"]
    assert bash_complete(["authsome", "login", "--flow", "d"], spec) == ["device_code", "dcr_pkce"]
    assert bash_complete(["authsome", "export", "-f", ""], spec) == [
        "env",
        "shell",
        "dotenv",
        "json",
    ]
    assert bash_complete(["authsome", "completion", "z"], spec) == ["zsh"]
    assert bash_complete(["authsome", "log", "--provider", "opena"], spec) == ["openai"]
    assert bash_complete(["authsome", "login", "--connection", ""], spec) == []


# -- zsh -----------------------------------------------------------------------------------


def test_zsh_compdef_and_function(custom):
    spec = script("zsh")
    body = f"""
autoload -U compinit && compinit -u -D
{spec}
print -r -- "registered=$_comps[authsome]"
compadd() {{ local a; for a in "$@"; do [[ $a == -- ]] || print -r -- "$a"; done }}
words=(authsome login hub); CURRENT=3; _authsome
print -r -- ---
words=(authsome export --format ''); CURRENT=4; _authsome
"""
    res = subprocess.run([need("zsh"), "-f", "-c", body], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    head, _, formats = res.stdout.partition("---\n")
    lines = head.splitlines()
    assert lines[0] == "registered=_authsome"
    assert {"hubspot", "hubtenant", "github"} <= set(lines[1:])
    assert formats.split() == ["env", "shell", "dotenv", "json"]


def test_zsh_real_completion_in_a_zpty(custom):
    """A real interactive zsh: type `authsome login hubs<TAB>` and read the line back."""
    driver = f"""
zmodload zsh/zpty
zpty z "zsh -f -i"
zpty -w z "PS1='> '; autoload -U compinit && compinit -u -D; \\
eval \\"\\$({AUTHSOME} completion zsh)\\"; setopt nobeep"
zpty -n -w z $'authsome login hubs\\t'
out=""
for i in {{1..100}}; do
  zpty -r -t z chunk 2>/dev/null && out+=$chunk
  [[ $out == *"login hubspot"* ]] && break
  sleep 0.1
done
zpty -d z
print -r -- "$out"
"""
    res = subprocess.run(
        [need("zsh"), "-f", "-c", driver], capture_output=True, text=True, timeout=30
    )
    assert "authsome login hubspot" in res.stdout.replace("\r", ""), res.stdout[-500:]


def test_zsh_without_compinit_says_what_to_do(home):
    res = subprocess.run([need("zsh"), "-f", "-c", script("zsh")], capture_output=True, text=True)
    assert "compinit" in res.stderr and "Traceback" not in res.stderr


# -- fish ----------------------------------------------------------------------------------


def fish_complete(line: str) -> list[str]:
    body = f"{AUTHSOME} completion fish | source; complete -C {json.dumps(line)}"
    res = subprocess.run(
        [need("fish"), "--no-config", "-c", body], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    return [w.split("\t")[0] for w in res.stdout.splitlines()]


def test_fish_completes(custom):
    assert fish_complete("authsome login hub") == ["hubspot", "hubtenant"]
    assert {"login", "import", "completion"} <= set(fish_complete("authsome "))
    assert fish_complete("authsome login --fl") == ["--flow"]
    assert fish_complete("authsome export --format ") == ["dotenv", "env", "json", "shell"]
    assert "openai" in fish_complete("authsome get open")


# -- the provider listing ------------------------------------------------------------------


def test_complete_providers_is_fast_and_includes_custom(custom):
    start = time.perf_counter()
    res = subprocess.run([AUTHSOME, "_complete-providers"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    names = res.stdout.split()
    assert res.returncode == 0 and "hubtenant" in names and "hubspot" in names
    assert len(names) >= 100 and names == sorted(names)
    assert elapsed < 1.0, elapsed  # measured ~0.03 s: no parser, no JSON


def test_hidden_command_not_offered(home):
    assert bash_complete(["authsome", "_"], script("bash")) == []
    res = subprocess.run([AUTHSOME, "--help"], capture_output=True, text=True)
    assert "_complete-providers" not in res.stdout
