"""The fish dialect (fish >= 3.5, for the builtin `path`): prompt and PWD event hooks."""

from __future__ import annotations

from authsome.shell.dialect import Dialect

TEMPLATE = r"""# authsome shell hook for fish: authsome hook fish | source  (in config.fish)
function __authsome_save -a name
    if set -qg $name
        set -g __AUTHSOME_SAVED_$name $$name
        if set -qgx $name
            set -g __AUTHSOME_SAVEDX_$name 1
        else
            set -eg __AUTHSOME_SAVEDX_$name
        end
    else
        set -eg __AUTHSOME_SAVED_$name __AUTHSOME_SAVEDX_$name
    end
end
function __authsome_restore -a name
    set -l saved __AUTHSOME_SAVED_$name
    if set -qg $saved
        if set -qg __AUTHSOME_SAVEDX_$name
            set -gx $name $$saved
        else
            set -eg $name
            set -g $name $$saved
        end
        set -eg $saved __AUTHSOME_SAVEDX_$name
    else
        set -eg $name
    end
end
# True while every watched path matches what the worker saw (builtins only).
function __authsome_unchanged
    set -l w $__AUTHSOME_WATCH
    while set -q w[2]
        set -l p $w[1]
        set -l s $w[2]
        set -e w[1..2]
        switch $s
            case -
                test -e $p -o -L $p; and return 1
            case +
                test -e $p -o -L $p; or return 1
            case '*'
                set -l m (path mtime -- $p)
                test "$m" = "$s"; or return 1
        end
    end
    return 0
end
function __authsome_hook --on-event fish_prompt --on-variable PWD
    set -l f
    set -l d $PWD
    # The nearest project file, from $PWD upward.
    if string match -q -- '/*' $d
        while true
            set -l c (string trim -r -c / -- $d)/.authsome.toml
            if test -f $c
                set f $c
                break
            end
            test "$d" = /; and break
            set d (path dirname -- $d)
        end
    end
    if test "$f" = "$__AUTHSOME_FILE"
        if test -z "$f"
            test -z "$__AUTHSOME_VARS"; and return
        else
            # Now, without a process: a file's mtime plus its age.
            set -l now (math (path mtime /) + (path mtime --relative /))
            if test -z "$__AUTHSOME_DEADLINE"; or test "$now" -lt "$__AUTHSOME_DEADLINE"
                __authsome_unchanged; and return
            end
        end
    end
    # Ctrl-C cancels this whole function in fish, the worker's answer with it: a run
    # for this same file that never finished was given up on; ask again only once the
    # file changes or we leave it (as bash and zsh do: "enter the directory again").
    if set -q __AUTHSOME_RUNNING; and test "$__AUTHSOME_RUNNING" = "$f"
        return
    end
    set -g __AUTHSOME_RUNNING $f
    # Something changed: ask the worker, which prints its code in one write.
    command @AUTHSOME@ _hook-env fish "$f" "$__AUTHSOME_FILE" \
        "$__AUTHSOME_VARS" "$__AUTHSOME_NOTED" | source
    set -eg __AUTHSOME_RUNNING
end
"""


class Fish(Dialect):
    name = "fish"
    stamps = False
    template = TEMPLATE

    def quote(self, value: str) -> str:
        # Inside fish single quotes only \\ and \' are special.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def export(self, name: str, value: str) -> str:
        return f"set -gx {name} {self.quote(value)}"

    def assign(self, name: str, value: str, exported: bool = False) -> str:
        return f"set -g{'x' if exported else ''} {name} {self.quote(value)}"

    def assign_list(self, name: str, values: list[str]) -> str:
        return f"set -g {name} " + " ".join(self.quote(v) for v in values)


DIALECT = Fish()
