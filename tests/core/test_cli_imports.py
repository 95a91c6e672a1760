"""The CLI starts fast: a command's module is imported only when that command runs;
`--version` and `--help` import none (and `--version` not even argparse)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from authsome.cli.main import COMMANDS, build_parser

# The console script's own lines, plus a report of sys.modules at exit (atexit runs
# after argparse's SystemExit too). `-X importtime` would miss importlib.import_module.
SCRIPT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("MODULES " + " ".join(sys.modules) + "\\n"))
sys.argv[0] = "authsome"
from authsome.cli.main import main
sys.exit(main())
"""


def imported(*args: str, tmp_path) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the CLI's entry point in a fresh interpreter; (result, modules it imported)."""
    env = {"AUTHSOME_HOME": str(tmp_path / "home"), "AUTHSOME_AGENT": "0", "PATH": "/usr/bin"}
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=60
    )
    report = res.stderr.rsplit("MODULES ", 1)
    res.stderr = report[0]
    return res, set(report[1].split())


def command_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("authsome.cli.cmd_")}


def test_version_imports_no_command_and_no_argparse(tmp_path):
    res, modules = imported("--version", tmp_path=tmp_path)
    assert res.returncode == 0 and res.stdout == "authsome 0.1.0\n"
    assert "authsome.cli.main" in modules  # the capture works
    assert command_modules(modules) == set()
    assert "argparse" not in modules


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_command_without_importing_one(tmp_path, flag):
    res, modules = imported(flag, tmp_path=tmp_path)
    assert res.returncode == 0
    assert command_modules(modules) == set()
    for name, (_, summary) in COMMANDS.items():
        assert re.search(rf"^    {name}\s+{re.escape(summary.split()[0])}", res.stdout, re.M), name


def test_a_command_imports_only_its_own_module(tmp_path):
    res, modules = imported("get", "--help", tmp_path=tmp_path)
    assert res.returncode == 0 and "--show-secret" in res.stdout
    assert command_modules(modules) == {"authsome.cli.cmd_get"}
    res, modules = imported("deny", "--help", tmp_path=tmp_path)
    assert res.returncode == 0 and "usage: authsome deny" in res.stdout
    assert command_modules(modules) == {"authsome.cli.cmd_allow"}


def test_unknown_command_is_one_line_listing_every_command(tmp_path):
    res, modules = imported("bogus", tmp_path=tmp_path)
    assert res.returncode == 2
    assert command_modules(modules) == set()
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "invalid choice: 'bogus'" in lines[0]
    assert all(f"'{name}'" in lines[0] for name in COMMANDS)


def test_static_summaries_match_each_command_module():
    """The listing's table says what each module registers (the full parser loads all)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    registered = {c.dest: c.help for c in sub._choices_actions}
    assert registered == {name: summary for name, (_, summary) in COMMANDS.items()}
    for name, (module, _) in COMMANDS.items():
        assert sub.choices[name].get_default("func").__module__ == f"authsome.cli.cmd_{module}"
