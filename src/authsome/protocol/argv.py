"""The helpers' argument grammar: `--connection NAME` (or `-c NAME`, `--connection=NAME`)
among plain words. One parser for authsome-helper, the git adapter and the agent's
planner, which must route exactly the runs the entry points would accept.

Pure and import-light (errors only): the agent client runs it before anything loads.
"""

from __future__ import annotations

from authsome.errors import UsageError


def split_connection(args: list[str]) -> tuple[str | None, list[str]]:
    """(the --connection value, the plain arguments); the last --connection wins.

    UsageError for any other option or a --connection without a value.
    """
    connection: str | None = None
    plain: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--connection", "-c"):
            if i + 1 >= len(args):
                raise UsageError("--connection needs a value")
            connection = args[i + 1]
            i += 2
            continue
        if arg.startswith("--connection="):
            connection = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            raise UsageError(f"unknown option {arg}")
        else:
            plain.append(arg)
        i += 1
    return connection, plain
