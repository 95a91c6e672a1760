"""The bash dialect (bash >= 4.4): a PROMPT_COMMAND hook whose fast path is all builtins."""

from __future__ import annotations

from authsome.protocol.shellquote import posix_quote
from authsome.shell.dialect import Dialect

TEMPLATE = r"""# authsome shell hook for bash: eval "$(authsome hook bash)" in ~/.bashrc
if (( BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4) )); then
  echo "authsome: the shell hook needs bash 4.4 or newer" >&2
else
__authsome_save() {
  if [[ -n ${!1+x} ]]; then
    printf -v "__AUTHSOME_SAVED_$1" '%s' "${!1}"
    local __a=${!1@a}
    unset "__AUTHSOME_SAVEDX_$1"
    [[ $__a == *x* ]] && printf -v "__AUTHSOME_SAVEDX_$1" 1
  else
    unset "__AUTHSOME_SAVED_$1" "__AUTHSOME_SAVEDX_$1"
  fi
}
__authsome_restore() {
  local __s=__AUTHSOME_SAVED_$1 __x=__AUTHSOME_SAVEDX_$1
  if [[ -n ${!__s+x} ]]; then
    unset "$1"
    printf -v "$1" '%s' "${!__s}"
    [[ -n ${!__x+x} ]] && export "$1"
    unset "$__s" "$__x"
  else
    unset "$1"
  fi
}
# True while every watched path matches what the worker saw (builtins only).
__authsome_unchanged() {
  local __i __p __s __n=${#__AUTHSOME_WATCH[@]}
  for (( __i = 0; __i < __n; __i += 2 )); do
    __p=${__AUTHSOME_WATCH[__i]} __s=${__AUTHSOME_WATCH[__i+1]}
    case $__s in
      -) [[ -e $__p || -L $__p ]] && return 1 ;;
      +) [[ -e $__p || -L $__p ]] || return 1 ;;
      *) [[ -e $__p && -e $__s && ! $__p -nt $__s && ! $__p -ot $__s ]] || return 1 ;;
    esac
  done
  return 0
}
__authsome_hook() {
  local __ret=$? __f= __d=$PWD __now __out
  # The nearest project file, from $PWD upward.
  if [[ $__d == /* ]]; then
    while :; do
      if [[ -f ${__d%/}/.authsome.toml ]]; then __f=${__d%/}/.authsome.toml; break; fi
      [[ $__d == / ]] && break
      __d=${__d%/*}; __d=${__d:-/}
    done
  fi
  if [[ $__f == "${__AUTHSOME_FILE-}" ]]; then
    if [[ -z $__f ]]; then
      [[ -z ${__AUTHSOME_VARS-} ]] && return $__ret
    else
      __now=${EPOCHSECONDS-}
      [[ -n $__now ]] || printf -v __now '%(%s)T' -1
      if [[ -z ${__AUTHSOME_DEADLINE-} ]] || (( __now < __AUTHSOME_DEADLINE )); then
        __authsome_unchanged && return $__ret
      fi
    fi
  fi
  # Something changed: ask the worker; its output is applied only when complete.
  # Ctrl-C reaches the worker alone (it gives up on what hangs and still answers).
  local __trap
  __trap=$(trap -p INT)
  trap -- '' INT
  if __out=$(@AUTHSOME@ _hook-env bash "$__f" "${__AUTHSOME_FILE-}" \
      "${__AUTHSOME_VARS-}" "${__AUTHSOME_NOTED-}"); then
    eval "$__out"
  fi
  if [[ -n $__trap ]]; then eval "$__trap"; else trap - INT; fi
  return $__ret
}
# First in PROMPT_COMMAND (string or array) so it sees the command's $?; only once.
if [[ -z ${PROMPT_COMMAND+x} ]]; then
  PROMPT_COMMAND=__authsome_hook
elif [[ ${PROMPT_COMMAND@a} == *a* ]]; then
  __authsome_i=1
  for __authsome_e in "${PROMPT_COMMAND[@]}"; do
    [[ $__authsome_e == __authsome_hook ]] && __authsome_i=
  done
  [[ -n $__authsome_i ]] && PROMPT_COMMAND=(__authsome_hook "${PROMPT_COMMAND[@]}")
  unset __authsome_i __authsome_e
elif [[ ";$PROMPT_COMMAND;" != *";__authsome_hook;"* ]]; then
  PROMPT_COMMAND="__authsome_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
fi
fi
"""


class Bash(Dialect):
    name = "bash"
    stamps = True
    template = TEMPLATE

    def quote(self, value: str) -> str:
        return posix_quote(value)

    def export(self, name: str, value: str) -> str:
        return f"export {name}={self.quote(value)}"

    def assign(self, name: str, value: str, exported: bool = False) -> str:
        return f"{'export ' if exported else ''}{name}={self.quote(value)}"

    def assign_list(self, name: str, values: list[str]) -> str:
        # A plain assignment (not `declare`, which would be local to the hook function).
        return f"{name}=(" + " ".join(self.quote(v) for v in values) + ")"


DIALECT = Bash()
