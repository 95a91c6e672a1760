"""`authsome login NAME --from-env` and `authsome import FILE`: what users already have,
checked (key pattern, JWT expiry) and stored; reported per variable, never echoed."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from authsome.importing import jwt_expiry
from authsome.protocol.dotenv import parse

OPENAI = "sk-test-0penAIk3yV4lue"
ANTHROPIC_BAD = "not-an-anthropic-key-9f8e7d"
GH = "gho_plainGitHubToken123"


def jwt(exp: float | None, **claims) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    if exp is not None:
        claims["exp"] = int(exp)
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def env_with(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_API_KEY"))}
    env.update(values)
    return env


def helper_get(run, name: str) -> dict:
    res = run("authsome-helper", "get", name)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


# -- the pure parts ----------------------------------------------------------------------


def test_dotenv_forms():
    text = (
        "\ufeff# comment\n"
        "export A=1\n"
        "B = 'single # not a comment'  # a comment\n"
        'C="multi\nline \\"q\\" \\\\ \\$HOME"\n'
        "D=unquoted value # trailing comment\n"
        "E=\n"
        "F= # only a comment\n"
        "G=a#b\n"
        "H=${NOT_EXPANDED}\r\n"
        "\n"
        "   # indented comment\n"
        "export\tI=tab\n"
    )
    entries, problems = parse(text)
    assert problems == []
    got = {e.name: e.value for e in entries}
    assert got == {
        "A": "1",
        "B": "single # not a comment",
        "C": 'multi\nline "q" \\ $HOME',
        "D": "unquoted value",
        "E": "",
        "F": "",
        "G": "a#b",
        "H": "${NOT_EXPANDED}",
        "I": "tab",
    }
    assert [e.line for e in entries] == [2, 3, 4, 6, 7, 8, 9, 10, 13]


@pytest.mark.parametrize(
    "value", ["plain", "a'b", "a'b`c`", "a'b$(x)\\\"", "back`tick'", "multi\nline'"]
)
def test_export_dotenv_reads_back_as_written(value):
    """`export --format dotenv` then `import`: the same value (a backquote escaped for a
    shell that sources the file came back with its backslash)."""
    from authsome.protocol.envfmt import render

    entries, problems = parse(render({"K": value}, "dotenv"))
    assert problems == [] and [(e.name, e.value) for e in entries] == [("K", value)]


def test_dotenv_problems_name_the_line_not_the_value():
    entries, problems = parse("OK=1\nsecret-value-no-equals\nX='unterminated\nY=2\n")
    assert [e.name for e in entries] == ["OK"]
    assert [p.line for p in problems] == [2, 3]
    assert all("secret-value" not in p.message for p in problems)
    entries, problems = parse("A='x' trailing\nB=2\n")
    assert [e.name for e in entries] == ["B"] and problems[0].line == 1


def test_jwt_expiry():
    assert jwt_expiry(jwt(1700000000)) == 1700000000
    assert jwt_expiry(jwt(None, sub="x")) is None
    assert jwt_expiry("gho_notajwt") is None
    assert jwt_expiry("a.b.c") is None
    assert jwt_expiry("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig") is None


# -- login --from-env --------------------------------------------------------------------


def test_from_env_api_key(home, run):
    res = run("authsome", "login", "openai", "--from-env", env=env_with(OPENAI_API_KEY=OPENAI))
    assert res.returncode == 0, res.stderr
    assert "OPENAI_API_KEY: stored" in res.stderr and OPENAI not in res.stderr + res.stdout
    assert helper_get(run, "openai")["api_key"] == OPENAI


def test_from_env_pattern_mismatch_is_refused(home, run):
    res = run(
        "authsome",
        "login",
        "anthropic",
        "--from-env",
        env=env_with(ANTHROPIC_API_KEY=ANTHROPIC_BAD),
    )
    assert res.returncode == 2
    assert "refused" in res.stderr and "^sk-ant-" in res.stderr
    assert ANTHROPIC_BAD not in res.stderr + res.stdout
    assert run("authsome", "get", "anthropic").returncode == 3


def test_from_env_nothing_set_names_the_variables(home, run):
    res = run("authsome", "login", "github", "--from-env", env=env_with())
    assert res.returncode == 2
    assert "GITHUB_TOKEN" in res.stderr and res.stderr.count("\n") == 1


def test_from_env_oauth_token_and_refresh_token(home, run):
    exp = time.time() + 3600
    access = jwt(exp, sub="me")
    res = run(
        "authsome",
        "login",
        "github",
        "--from-env",
        env=env_with(GITHUB_TOKEN=access, GITHUB_REFRESH_TOKEN="ghr_refresh123"),
    )
    assert res.returncode == 0, res.stderr
    assert "GITHUB_TOKEN: stored" in res.stderr and "GITHUB_REFRESH_TOKEN: stored" in res.stderr
    got = helper_get(run, "github")
    assert got["access_token"] == access and abs(got["expires_in"] - 3600) < 30
    shown = json.loads(run("authsome", "get", "github", "--json").stdout)
    assert shown["has_refresh_token"] is True


def test_from_env_expired_jwt(home, run):
    dead = jwt(time.time() - 60)
    res = run("authsome", "login", "github", "--from-env", env=env_with(GITHUB_TOKEN=dead))
    assert res.returncode == 2 and "expired" in res.stderr and dead not in res.stderr
    assert run("authsome", "get", "github").returncode == 3
    # with a refresh token it is kept, and the user is told why it is still useful
    res = run(
        "authsome",
        "login",
        "github",
        "--from-env",
        env=env_with(GITHUB_TOKEN=dead, GITHUB_REFRESH_TOKEN="ghr_r"),
    )
    assert res.returncode == 0, res.stderr
    assert "expired" in res.stderr and "refresh token renews it" in res.stderr


def test_from_env_templated_provider_needs_set(home, run):
    env = env_with(ZENDESK_ACCESS_TOKEN="zd-token-1")
    res = run("authsome", "login", "zendesk", "--from-env", env=env)
    assert res.returncode == 2 and "--set subdomain=" in res.stderr
    res = run("authsome", "login", "zendesk", "--from-env", "--set", "subdomain=acme", env=env)
    assert res.returncode == 0, res.stderr
    shown = json.loads(run("authsome", "get", "zendesk", "--json").stdout)
    assert shown["params"] == {"subdomain": "acme"}


# -- import FILE -------------------------------------------------------------------------


def write_env(tmp_path, text: str):
    path = tmp_path / "app.env"
    path.write_text(text)
    return str(path)


def test_import_reports_each_variable(home, run, tmp_path):
    path = write_env(
        tmp_path,
        "# my app\n"
        f"export OPENAI_API_KEY='{OPENAI}'\n"
        f'GITHUB_TOKEN="{GH}"  # work token\n'
        "DATABASE_URL=postgres://user:pw@db/app\n"
        f"ANTHROPIC_API_KEY={ANTHROPIC_BAD}\n"
        "this line is broken\n",
    )
    res = run("authsome", "import", path, "--json", env=env_with())
    assert res.returncode == 2, res.stderr  # one refused
    report = {r["variable"]: r for r in json.loads(res.stdout)}
    assert report["OPENAI_API_KEY"]["result"] == "stored"
    assert report["OPENAI_API_KEY"]["provider"] == "openai"
    assert report["GITHUB_TOKEN"]["result"] == "stored"
    assert report["DATABASE_URL"] == {
        "variable": "DATABASE_URL",
        "provider": None,
        "result": "skipped",
        "reason": "unknown variable",
    }
    assert report["ANTHROPIC_API_KEY"]["result"] == "refused"
    assert report["line 6"]["result"] == "skipped"
    for secret in (OPENAI, GH, ANTHROPIC_BAD, "user:pw"):
        assert secret not in res.stdout + res.stderr
    assert helper_get(run, "openai")["api_key"] == OPENAI
    assert helper_get(run, "github")["access_token"] == GH


def test_import_all_good_exits_0_with_a_table(home, run, tmp_path):
    path = write_env(tmp_path, f"OPENAI_API_KEY={OPENAI}\nUNRELATED=1\n")
    res = run("authsome", "import", path, "--connection", "ci")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["VARIABLE", "PROVIDER", "RESULT", "DETAIL"]
    assert lines[1].split() == ["OPENAI_API_KEY", "openai", "stored"]
    assert lines[2].split()[:3] == ["UNRELATED", "-", "skipped"]
    assert "\x1b[" not in res.stdout  # not a terminal: no colour
    assert run("authsome-helper", "get", "openai").returncode == 3  # not the default one
    got = run("authsome-helper", "get", "openai", "--connection", "ci")
    assert json.loads(got.stdout)["api_key"] == OPENAI


def test_import_nothing_importable(home, run, tmp_path):
    res = run("authsome", "import", write_env(tmp_path, "A=1\n# nothing\n"))
    assert res.returncode == 2 and "nothing to import" in res.stderr


def test_import_stdin_and_missing_file(home, run, tmp_path):
    res = run("authsome", "import", "-", input=f"OPENAI_API_KEY={OPENAI}\n")
    assert res.returncode == 0, res.stderr
    res = run("authsome", "import", str(tmp_path / "nope.env"))
    assert res.returncode == 2 and "no such file" in res.stderr


@pytest.mark.parametrize("value", ["two words", "tab\there"])
def test_import_refuses_a_token_with_blanks(home, run, tmp_path, value):
    res = run("authsome", "import", write_env(tmp_path, f'GITHUB_TOKEN="{value}"\n'))
    assert res.returncode == 2 and "refused" in res.stdout and value not in res.stdout


# -- hostile files (#19 items 9-11) ------------------------------------------------------

HF = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def test_import_never_echoes_a_line_that_is_not_an_assignment(home, run, tmp_path):
    """A bare token on its own line is one identifier: the report names the line only."""
    path = write_env(tmp_path, f"{HF}\nghp_BareToken0123456789 trailing\nOPENAI_API_KEY={OPENAI}\n")
    for n, extra in enumerate(([], ["--json"])):
        res = run("authsome", "import", path, "--connection", f"c{n}", *extra)
        assert res.returncode == 0, res.stderr
        assert HF not in res.stdout + res.stderr
        assert "ghp_BareToken" not in res.stdout + res.stderr
        assert "line 1" in res.stdout and "line 2" in res.stdout


def test_import_refuses_a_symlink_or_a_fifo_unless_follow(home, run, tmp_path):
    secret_file = tmp_path / "elsewhere.txt"
    secret_file.write_text("shadowuser:$6$hash:19000:0:99999:7:::\n")
    link = tmp_path / ".env"
    link.symlink_to(secret_file)
    res = run("authsome", "import", str(link))
    assert res.returncode == 2 and "symlink" in res.stderr and "--follow" in res.stderr
    assert "shadowuser" not in res.stdout + res.stderr
    fifo = tmp_path / "pipe.env"
    os.mkfifo(fifo)
    res = run("authsome", "import", str(fifo), timeout=20)
    assert res.returncode == 2 and "not a regular file" in res.stderr
    secret_file.write_text(f"OPENAI_API_KEY={OPENAI}\n")
    res = run("authsome", "import", "--follow", str(link))
    assert res.returncode == 0, res.stderr


def test_import_keeps_a_connected_login_unless_force(home, run, tmp_path):
    exp = time.time() + 3600
    mine = jwt(exp, sub="me")
    res = run(
        "authsome",
        "login",
        "github",
        "--from-env",
        env=env_with(GITHUB_TOKEN=mine, GITHUB_REFRESH_TOKEN="ghr_mine"),
    )
    assert res.returncode == 0, res.stderr
    path = write_env(tmp_path, "GITHUB_TOKEN=ghp_attacker\n")
    res = run("authsome", "import", path, "--json")
    assert res.returncode == 2  # nothing imported
    (row,) = json.loads(res.stdout)
    assert row["result"] == "skipped" and row["reason"] == "already connected (use --force)"
    assert helper_get(run, "github")["access_token"] == mine
    assert json.loads(run("authsome", "get", "github", "--json").stdout)["has_refresh_token"]
    res = run("authsome", "import", path, "--force")
    assert res.returncode == 0, res.stderr
    assert helper_get(run, "github")["access_token"] == "ghp_attacker"
