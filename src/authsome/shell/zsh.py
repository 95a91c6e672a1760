"""The zsh dialect: precmd and chpwd hooks whose fast path is all builtins."""

from __future__ import annotations

from authsome.protocol.shellquote import posix_quote
from authsome.shell.dialect import Dialect

TEMPLATE = r"""# authsome shell hook for zsh: eval "$(authsome hook zsh)" in ~/.zshrc
zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null
__authsome_save() {
  emulate -L zsh
  if (( ${(P)+1} )); then
    typeset -g "__AUTHSOME_SAVED_$1=${(P)1}"
    unset "__AUTHSOME_SAVEDX_$1"
    [[ ${(Pt)1} == *export* ]] && typeset -g "__AUTHSOME_SAVEDX_$1=1"
  else
    unset "__AUTHSOME_SAVED_$1" "__AUTHSOME_SAVEDX_$1"
  fi
}
__authsome_restore() {
  emulate -L zsh
  local __s=__AUTHSOME_SAVED_$1 __x=__AUTHSOME_SAVEDX_$1
  if (( ${(P)+__s} )); then
    unset "$1"
    if (( ${(P)+__x} )); then typeset -gx "$1=${(P)__s}"; else typeset -g "$1=${(P)__s}"; fi
    unset "$__s" "$__x"
  else
    unset "$1"
  fi
}
# True while every watched path matches what the worker saw (builtins only).
__authsome_unchanged() {
  emulate -L zsh
  local __i __p __s
  for (( __i = 1; __i < ${#__AUTHSOME_WATCH}; __i += 2 )); do
    __p=${__AUTHSOME_WATCH[__i]} __s=${__AUTHSOME_WATCH[__i+1]}
    case $__s in
      (-) [[ -e $__p || -L $__p ]] && return 1 ;;
      (+) [[ -e $__p || -L $__p ]] || return 1 ;;
      (*) [[ -e $__p && -e $__s && ! $__p -nt $__s && ! $__p -ot $__s ]] || return 1 ;;
    esac
  done
  return 0
}
__authsome_hook() {
  local __ret=$?
  emulate -L zsh
  local __f= __d=$PWD __out
  # The nearest project file, from $PWD upward.
  if [[ $__d == /* ]]; then
    while true; do
      if [[ -f ${__d%/}/.authsome.toml ]]; then __f=${__d%/}/.authsome.toml; break; fi
      [[ $__d == / ]] && break
      __d=${__d%/*}; __d=${__d:-/}
    done
  fi
  if [[ $__f == "${__AUTHSOME_FILE-}" ]]; then
    if [[ -z $__f ]]; then
      [[ -z ${__AUTHSOME_VARS-} ]] && return $__ret
    elif [[ -z ${__AUTHSOME_DEADLINE-} ]] || (( EPOCHSECONDS < __AUTHSOME_DEADLINE )); then
      __authsome_unchanged && return $__ret
    fi
  fi
  # Something changed: ask the worker; its output is applied only when complete.
  # Ctrl-C reaches the worker alone (emulate -L made this trap local).
  trap '' INT
  if __out=$(@AUTHSOME@ _hook-env zsh "$__f" "${__AUTHSOME_FILE-}" \
      "${__AUTHSOME_VARS-}" "${__AUTHSOME_NOTED-}"); then
    eval "$__out"
  fi
  return $__ret
}
# First in precmd_functions (it sees the command's $?) and in chpwd_functions (so that
# `cd project && cmd` already has the variables); only once however often sourced.
(( ${precmd_functions[(Ie)__authsome_hook]} )) ||
  precmd_functions=(__authsome_hook $precmd_functions)
(( ${chpwd_functions[(Ie)__authsome_hook]} )) ||
  chpwd_functions=(__authsome_hook $chpwd_functions)
"""


class Zsh(Dialect):
    name = "zsh"
    stamps = True
    template = TEMPLATE

    def quote(self, value: str) -> str:
        return posix_quote(value)

    def export(self, name: str, value: str) -> str:
        return f"typeset -gx {name}={self.quote(value)}"

    def assign(self, name: str, value: str, exported: bool = False) -> str:
        return f"typeset -g{'x' if exported else ''} {name}={self.quote(value)}"

    def assign_list(self, name: str, values: list[str]) -> str:
        return f"typeset -ga {name}; {name}=(" + " ".join(self.quote(v) for v in values) + ")"


DIALECT = Zsh()
