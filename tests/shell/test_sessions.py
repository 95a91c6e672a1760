"""The hook in real interactive bash, zsh and fish: what a person at the prompt sees."""

from __future__ import annotations

import time

import pytest

from .conftest import SHELLS, allow, forge_approval, quote, write_project

KEY = "sk-test-" + "a" * 32
KEY2 = "sk-work-" + "b" * 32


def setvar(shell: str, name: str, value: str, export: bool = True) -> str:
    if shell == "fish":
        return f"set -g{'x' if export else ''} {name} {quote(value)}"
    return f"{'export ' if export else ''}{name}={quote(value)}"


def rec_hook(shell: str, path) -> str:
    """Another prompt hook, installed after ours, recording the `$?` it sees."""
    if shell == "bash":
        return f'__rec() {{ echo $? >> {path}; }}\nPROMPT_COMMAND="$PROMPT_COMMAND;__rec"'
    if shell == "zsh":
        return f"__rec() {{ echo $? >> {path} }}\nprecmd_functions+=(__rec)"
    return f"function __rec --on-event fish_prompt; echo $status >> {path}; end"


@pytest.mark.parametrize("shell", SHELLS)
def test_enter_exports_and_leave_restores(shell, session, seed, tmp_path, run):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    write_project(proj, {"OPENAI_API_KEY": "openai", "PRESET": "openai", "LOCAL": "openai"})
    (proj / "sub").mkdir()
    allow(run, proj)
    before = "\n".join([setvar(shell, "PRESET", "original"), setvar(shell, "LOCAL", "mine", False)])
    s = session(shell, before=before)
    assert s.value("OPENAI_API_KEY") is None
    s.cd(proj / "sub")
    for name in ("OPENAI_API_KEY", "PRESET", "LOCAL"):
        assert s.value(name) == KEY
        assert s.exported(name)
    s.cd(tmp_path)
    assert s.value("OPENAI_API_KEY") is None
    assert s.value("PRESET") == "original" and s.exported("PRESET")
    assert s.value("LOCAL") == "mine" and not s.exported("LOCAL")


@pytest.mark.parametrize("shell", SHELLS)
def test_swapping_between_two_trees(shell, session, seed, tmp_path, run):
    seed.api_key("openai", KEY)
    seed.api_key("openai", KEY2, connection="work")
    a, b = tmp_path / "a", tmp_path / "b"
    write_project(a, {"X": "openai", "ONLY_A": "openai"})
    write_project(b, {"X": "openai:work", "ONLY_B": "openai:work"})
    allow(run, a)
    allow(run, b)
    s = session(shell, before=setvar(shell, "X", "original"))
    s.cd(a)
    assert (s.value("X"), s.value("ONLY_A"), s.value("ONLY_B")) == (KEY, KEY, None)
    s.cd(b)
    assert (s.value("X"), s.value("ONLY_A"), s.value("ONLY_B")) == (KEY2, None, KEY2)
    s.cd(tmp_path)
    assert (s.value("X"), s.value("ONLY_A"), s.value("ONLY_B")) == ("original", None, None)


def _settle(shell: str, s) -> None:
    """fish sees whole seconds: an edit is certain to show once a second has passed."""
    if shell == "fish":
        time.sleep(1.1)


@pytest.mark.parametrize("shell", SHELLS)
def test_approval_edit_blocks_allow_unblocks(shell, session, seed, tmp_path, run):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    path = write_project(proj, {"OPENAI_API_KEY": "openai"})
    s = session(shell, cwd=tmp_path)
    out = s.cd(proj)
    assert out.count(f"run `authsome allow {proj}`") == 1, out
    assert s.value("OPENAI_API_KEY") is None
    assert "authsome allow" not in s.run("true") + s.run("true")
    out = s.run("authsome allow .")  # the prompt right after it exports
    assert "allowed" in out
    assert s.value("OPENAI_API_KEY") == KEY
    _settle(shell, s)
    path.write_text(path.read_text() + "# edited\n")
    out = s.run("true")
    _settle(shell, s)
    out += s.run("true") + s.run("true")
    assert out.count("is not approved") == 1, out
    assert s.value("OPENAI_API_KEY") is None
    s.run("authsome allow")
    assert s.value("OPENAI_API_KEY") == KEY
    out = s.run("authsome deny")
    assert out.count("is blocked; run `authsome allow") == 1, out
    assert s.value("OPENAI_API_KEY") is None


@pytest.mark.parametrize("shell", SHELLS)
def test_message_once_per_entry(shell, session, tmp_path):
    proj = tmp_path / "proj"
    write_project(proj, {"OPENAI_API_KEY": "openai"})
    (proj / "sub").mkdir()
    s = session(shell, cwd=tmp_path)
    outputs = [s.cd(proj), s.cd(proj / "sub"), s.run("true"), s.cd(proj), s.cd(tmp_path)]
    assert [o.count("authsome allow") for o in outputs] == [1, 0, 0, 0, 0]
    assert s.cd(proj / "sub").count("authsome allow") == 1  # a new entry


@pytest.mark.parametrize("shell", SHELLS)
def test_missing_connection_says_login_and_others_export(shell, session, seed, tmp_path, run):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    write_project(proj, {"OPENAI_API_KEY": "openai", "GH": "github:work"})
    allow(run, proj)
    s = session(shell)
    out = s.cd(proj) + s.run("true")
    assert out.count("run `authsome login github --connection work`") == 1, out
    assert s.value("OPENAI_API_KEY") == KEY and s.value("GH") is None
    # Logging in from this very shell: the next prompt exports it.
    seed.token("github", "gho_fresh", connection="work")
    _settle(shell, s)
    s.run("true")
    assert s.value("GH") == "gho_fresh"


@pytest.mark.parametrize("shell", SHELLS)
def test_refused_names_even_with_a_forged_approval(shell, session, seed, tmp_path):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    path = write_project(proj, {"GOOD": "openai", "PATH": "openai", "LD_PRELOAD": "openai"})
    forge_approval(path, {"GOOD": "openai", "PATH": "openai", "LD_PRELOAD": "openai"})
    s = session(shell)
    path_before = s.value("PATH")
    out = s.cd(proj)
    assert out.count("is refused") == 1, out
    assert s.value("PATH") == path_before
    assert s.value("LD_PRELOAD") is None and s.value("GOOD") is None


HOSTILE = "a'b\"c\\d$(touch PWNED)`touch PWNED2`\nsecond line ${HOME} %s '\\'' \x1b[0m end\\"


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_token_arrives_byte_exact_and_runs_nothing(shell, session, seed, tmp_path, run):
    # `store` refuses control characters now (a header could not carry them); a vault
    # written before that rule, or by another machine's older authsome, can still hold
    # one: the hook must quote whatever the vault gives it.
    from authsome.vault.vault import Vault

    seed.token("hubspot", "placeholder")
    vault = Vault()
    record = vault.get("connections", "hubspot:default")
    vault.put("connections", "hubspot:default", dict(record, access_token=HOSTILE))
    proj = tmp_path / "proj"
    write_project(proj, {"HUBSPOT_ACCESS_TOKEN": "hubspot"})
    allow(run, proj)
    s = session(shell)
    s.cd(proj)
    assert s.value("HUBSPOT_ACCESS_TOKEN") == HOSTILE
    assert not list(tmp_path.rglob("PWNED*"))


@pytest.mark.parametrize("shell", SHELLS)
def test_exit_status_preserved(shell, session, seed, tmp_path, run):
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    write_project(proj, {"OPENAI_API_KEY": "openai"})
    allow(run, proj)
    record = tmp_path / "status.log"
    s = session(shell, after=rec_hook(shell, record))
    record.write_text("")
    s.run("true", status=3)  # fast path: nothing changes
    s.run(f"cd {quote(str(proj))}", status=4)  # the worker runs
    s.run(f"cd {quote(str(tmp_path))}", status=5)  # the worker restores
    assert record.read_text().split() == ["3", "4", "5"]
    assert s.value("OPENAI_API_KEY") is None


def _hooks_listing(shell: str, s, out) -> str:
    if shell == "bash":
        s.run(f"declare -p PROMPT_COMMAND > {out}")
    elif shell == "zsh":
        s.run(f"print -l -- $precmd_functions -- $chpwd_functions > {out}")
    else:
        s.run(f"functions --handlers > {out}")
    return out.read_text()


EXISTING = {
    "bash-string": 'PROMPT_COMMAND="__other"',
    "bash-array": "PROMPT_COMMAND=(__other 'history -a')",
    "zsh": "precmd_functions=(__other)",
    "fish": "",
}


@pytest.mark.parametrize("variant", list(EXISTING))
def test_installed_once_and_coexists(variant, session, seed, tmp_path, run):
    shell = variant.split("-")[0]
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    write_project(proj, {"OPENAI_API_KEY": "openai"})
    allow(run, proj)
    other = tmp_path / "other.log"
    if shell == "fish":
        define = f"function __other --on-event fish_prompt; echo x >> {other}; end"
    else:
        define = f"__other() {{ echo x >> {other}; }}"
    s = session(shell, before=define + "\n" + EXISTING[variant], install=3)
    listing = _hooks_listing(shell, s, tmp_path / "hooks.txt")
    if shell == "fish":
        assert listing.count("__authsome_hook") == 2  # fish_prompt and PWD, once each
    elif shell == "zsh":
        assert listing.count("__authsome_hook") == 2  # precmd and chpwd, once each
        assert "__other" in listing
    else:
        assert listing.count("__authsome_hook") == 1 and "__other" in listing
    if variant == "bash-array":
        assert "history -a" in listing and listing.startswith("declare -a")
    runs_before = len(other.read_text().split())
    s.cd(proj)
    assert s.value("OPENAI_API_KEY") == KEY
    assert len(other.read_text().split()) > runs_before  # the other hook still runs


@pytest.mark.parametrize("shell", SHELLS)
def test_nested_shell_removes_inherited_tokens_on_leaving(shell, session, seed, tmp_path, run):
    """A shell started inside a project inherits the tokens; leaving must not keep them."""
    seed.api_key("openai", KEY)
    proj = tmp_path / "proj"
    write_project(proj, {"OPENAI_API_KEY": "openai"})
    allow(run, proj)
    s = session(shell, cwd=proj, before=setvar(shell, "__AUTHSOME_VARS", "OPENAI_API_KEY PATH"))
    s.run(f"export OPENAI_API_KEY={KEY}" if shell != "fish" else f"set -gx OPENAI_API_KEY {KEY}")
    path_before = s.value("PATH")
    s.cd(tmp_path)
    assert s.value("OPENAI_API_KEY") is None
    assert s.value("PATH") == path_before  # a forged name list cannot unset PATH
