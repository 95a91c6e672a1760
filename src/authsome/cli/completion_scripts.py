"""Completion scripts for bash, zsh and fish, generated from the argparse parser.

Commands, flags and fixed choices are read from the parser when the script is printed,
so they cannot drift from the CLI. Provider names change with the user's files, so the
scripts ask `authsome _complete-providers` (a directory listing, no JSON) at <TAB> time.
"""

from __future__ import annotations

import argparse

import attrs

PROVIDERS = "@providers"  # complete provider names
FILES = "@files"
DIRS = "@dirs"
FREE = ""  # a value the user types (no completion)

# Which argument names take a provider name (positionals and options alike).
PROVIDER_DESTS = ("name", "names", "provider")
FILE_DESTS = ("file",)
DIR_DESTS = ("dir",)


@attrs.frozen
class Command:
    name: str
    help: str
    flags: list[str]  # every option string, e.g. --connection, -c
    values: dict[str, str | list[str]]  # option string -> what its value completes to
    positional: str | list[str]  # what positionals complete to
    helps: dict[str, str] = attrs.field(factory=dict)  # option string -> its help


def _kind(action: argparse.Action) -> str | list[str]:
    if isinstance(action, argparse._SubParsersAction):
        return sorted(action.choices)
    if action.choices:
        return [str(c) for c in action.choices]
    if action.dest in PROVIDER_DESTS:
        return PROVIDERS
    if action.dest in FILE_DESTS:
        return FILES
    if action.dest in DIR_DESTS:
        return DIRS
    return FREE


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """The completion spec of every visible subcommand of `parser`."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    out = []
    for name, p in sub.choices.items():
        if name not in helps:  # aliases and hidden commands
            continue
        flags: list[str] = []
        values: dict[str, str | list[str]] = {}
        options: dict[str, str] = {}
        positional: str | list[str] = FREE
        for action in p._actions:
            if not action.option_strings:
                if positional == FREE:
                    positional = _kind(action)
                continue
            flags += action.option_strings
            for opt in action.option_strings:
                options[opt] = (action.help or "").split(" (")[0]
            if action.nargs != 0:
                for opt in action.option_strings:
                    values[opt] = _kind(action)
        out.append(Command(name, helps[name], flags, values, positional, options))
    return out


def _words(kind: str | list[str]) -> str:
    return " ".join(kind) if isinstance(kind, list) else ""


def _sh_reply(kind: str | list[str], shell: str) -> str:
    """The body that completes `kind` for the current word (bash: cur; zsh: cur)."""
    if shell == "bash":
        if kind == PROVIDERS:
            return 'COMPREPLY=($(compgen -W "$(__authsome_providers)" -- "$cur"))'
        if kind == FILES:
            return 'COMPREPLY=($(compgen -f -- "$cur"))'
        if kind == DIRS:
            return 'COMPREPLY=($(compgen -d -- "$cur"))'
        if isinstance(kind, list):
            return f'COMPREPLY=($(compgen -W "{_words(kind)}" -- "$cur"))'
        return "COMPREPLY=()"
    if kind == PROVIDERS:
        return 'compadd -- ${(f)"$(__authsome_providers)"}'
    if kind == FILES:
        return "_files"
    if kind == DIRS:
        return "_files -/"
    if isinstance(kind, list):
        return f"compadd -- {_words(kind)}"
    return ":"


def _cases(cmds: list[Command], shell: str) -> tuple[str, str, str]:
    """(option-value cases, flag cases, positional cases) for bash/zsh `case` blocks."""
    value_cases, flag_cases, pos_cases = [], [], []
    for c in cmds:
        for opt, kind in c.values.items():
            value_cases.append(f"    {c.name}:{opt}) {_sh_reply(kind, shell)}; return ;;")
        flags = " ".join([*c.flags])
        if shell == "bash":
            flag_cases.append(
                f'    {c.name}) COMPREPLY=($(compgen -W "{flags}" -- "$cur")); return ;;'
            )
        else:
            flag_cases.append(f"    {c.name}) compadd -- {flags}; return ;;")
        pos_cases.append(f"    {c.name}) {_sh_reply(c.positional, shell)} ;;")
    return "\n".join(value_cases), "\n".join(flag_cases), "\n".join(pos_cases)


BASH = """# authsome completion for bash: eval "$(authsome completion bash)" in ~/.bashrc
__authsome_providers() { @EXE@ _complete-providers 2>/dev/null; }
_authsome() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in -*) ;; *) cmd="${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "@COMMANDS@ --help --version" -- "$cur"))
    return
  fi
  case "$cmd:$prev" in
@VALUES@
  esac
  if [[ $cur == -* ]]; then
    case "$cmd" in
@FLAGS@
    esac
    return
  fi
  case "$cmd" in
@POSITIONAL@
  esac
}
complete -F _authsome authsome
"""

ZSH = """#compdef authsome
# authsome completion for zsh: eval "$(authsome completion zsh)" in ~/.zshrc, after compinit
__authsome_providers() { @EXE@ _complete-providers 2>/dev/null; }
_authsome() {
  local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}" cmd="" i
  for ((i = 2; i < CURRENT; i++)); do
    case "${words[i]}" in -*) ;; *) cmd="${words[i]}"; break ;; esac
  done
  if [[ -z $cmd ]]; then
    compadd -- @COMMANDS@ --help --version
    return
  fi
  case "$cmd:$prev" in
@VALUES@
  esac
  if [[ $cur == -* ]]; then
    case "$cmd" in
@FLAGS@
    esac
    return
  fi
  case "$cmd" in
@POSITIONAL@
  esac
}
if (( $+functions[compdef] )); then
  compdef _authsome authsome
else
  print -u2 "authsome: run compinit before loading the completion (autoload -U compinit; compinit)"
fi
"""


def _fill(template: str, cmds: list[Command], shell: str, exe: str) -> str:
    values, flags, positional = _cases(cmds, shell)
    return (
        template.replace("@EXE@", exe)
        .replace("@COMMANDS@", " ".join(c.name for c in cmds))
        .replace("@VALUES@", values)
        .replace("@FLAGS@", flags)
        .replace("@POSITIONAL@", positional)
    )


def bash(cmds: list[Command], exe: str) -> str:
    return _fill(BASH, cmds, "bash", exe)


def zsh(cmds: list[Command], exe: str) -> str:
    return _fill(ZSH, cmds, "zsh", exe)


def fish(cmds: list[Command], exe: str, quote) -> str:
    """fish: one `complete` line per command, flag and argument kind."""
    lines = [
        "# authsome completion for fish: authsome completion fish | source",
        "# (or save it as ~/.config/fish/completions/authsome.fish)",
        "complete -c authsome -e",
        "complete -c authsome -f",
        "complete -c authsome -n __fish_use_subcommand -l help -d 'show help'",
        "complete -c authsome -n __fish_use_subcommand -l version -d 'show the version'",
    ]
    providers = quote(f"({quote(exe)} _complete-providers 2>/dev/null)")
    for c in cmds:
        lines.append(
            f"complete -c authsome -n __fish_use_subcommand -a {c.name} -d {quote(c.help)}"
        )
        seen = f"-n '__fish_seen_subcommand_from {c.name}'"
        for flag in c.flags:
            opt = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
            kind = c.values.get(flag)
            value = "" if kind is None else " " + _fish_value(kind, providers)
            described = f" -d {quote(c.helps[flag])}" if c.helps.get(flag) else ""
            lines.append(f"complete -c authsome {seen} {opt}{value}{described}")
        if c.positional != FREE:
            lines.append(f"complete -c authsome {seen} {_fish_value(c.positional, providers)}")
    return "\n".join(lines) + "\n"


def _fish_value(kind: str | list[str], providers: str) -> str:
    if kind == PROVIDERS:
        return f"-x -a {providers}"
    if kind in (FILES, DIRS):
        return "-r -F"
    if isinstance(kind, list):
        return f"-x -a '{_words(kind)}'"
    return "-x"
