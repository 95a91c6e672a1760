"""What a user can read: the exit codes in `authsome --help` and the README, no citation
of a document users do not have, every field `inspect` prints documented, the
environment variables named; and Ctrl-C's exit code."""

from __future__ import annotations

import re
from pathlib import Path

from authsome.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
CODES = {"0", "1", "2", "3", "4", "5", "6", "7", "130"}


def test_help_and_readme_list_every_exit_code(run):
    r = run("authsome", "--help")
    assert r.returncode == 0
    table = r.stdout.split("exit codes", 1)[1]
    assert {m for m in re.findall(r"^  (\d+) ", table, re.M)} == CODES
    assert "interrupted (Ctrl-C)" in table
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \|", readme.split("## Exit codes", 1)[1], re.M)
    assert set(rows) == CODES


def test_no_help_or_doc_cites_the_spec(run):
    for command in COMMANDS:
        r = run("authsome", command, "--help")
        assert "SPEC" not in r.stdout + r.stderr, command
    assert "SPEC" not in run("authsome", "--help").stdout
    assert "SPEC" not in run("authsome-helper", "--help").stdout
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "SPEC" not in doc.read_text(), doc


def test_every_field_inspect_prints_is_documented(home):
    from authsome.cli.cmd_inspect import definition_dict
    from authsome.providers import load_registry

    documented = (ROOT / "docs" / "providers.md").read_text()
    seen: set[str] = set()

    def walk(data: dict, prefix: str) -> None:
        for key, value in data.items():
            seen.add(prefix + key)
            if key in ("oauth", "api_key", "mcp", "verified") and isinstance(value, dict):
                walk(value, f"{key}.")

    for provider in load_registry().all():  # what `authsome inspect NAME` prints
        walk(definition_dict(provider), "")
    missing = [f for f in sorted(seen) if f"`{f}`" not in documented]
    assert missing == []


def test_environment_variables_are_named(home):
    text = (ROOT / "README.md").read_text()
    for var in ("AUTHSOME_CALLBACK_PORT", "AUTHSOME_CA_BUNDLE", "AUTHSOME_HOME"):
        assert var in text.split("## Where things live", 1)[1], var
