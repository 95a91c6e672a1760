#!/bin/sh
# The shell hook's cost next to direnv's and `python -c pass`: see hook_bench.py.
here=$(dirname "$0")
exec "${PYTHON:-$here/../.venv/bin/python}" "$here/hook_bench.py" "$@"
