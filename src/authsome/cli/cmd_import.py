"""`authsome import FILE`: store the credentials a dotenv file holds for known providers.

Each variable is reported: stored, skipped (unknown variable, empty, a refresh token
without its access token) or refused (fails its check: key pattern, expired JWT,
missing template value). Values are never printed. Exit 0 when something was stored
and nothing refused; 2 when anything was refused, or when nothing could be imported.
"""

from __future__ import annotations

import argparse
import sys

from authsome.cli import output
from authsome.errors import UsageError

MAX_BYTES = 1 << 20  # a dotenv file is small; refuse to slurp a wrong, huge file

EXAMPLES = """examples:
  authsome import .env
  authsome import --connection ci ci.env
  grep OPENAI .env | authsome import -
"""


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="store the tokens and API keys a .env file holds",
        description="Read a dotenv file (NAME=value, `export`, quotes, comments) and store "
        "every variable that a provider definition names (access token, refresh token or "
        "API key), after checking it. Reports what it did with each variable.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the dotenv file ('-' for stdin)")
    output.add_connection(p, "store under this connection (default: default)")
    p.add_argument(
        "--force", action="store_true", help="replace a connection that is already connected"
    )
    p.add_argument(
        "--follow", action="store_true", help="read FILE even if it is a symlink or not a file"
    )
    output.add_json(p)
    p.set_defaults(func=run)


def _read(path: str, follow: bool) -> str:
    """The file's text. Without `follow`, only a regular file that is not a symlink: a
    `.env` planted as a link to /etc/shadow must not be read (its lines get reported)."""
    import os
    import stat

    if path == "-":
        return sys.stdin.read(MAX_BYTES + 1)
    flags = os.O_RDONLY | (0 if follow else os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}")
    except OSError as exc:
        if not follow and os.path.islink(path):
            raise UsageError(f"{path} is a symlink: pass --follow to read what it points to")
        raise UsageError(f"cannot read {path}: {type(exc).__name__}")
    try:
        if not follow and not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path} is not a regular file: pass --follow to read it anyway")
        with open(fd, encoding="utf-8", closefd=False) as f:
            text = f.read(MAX_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {type(exc).__name__}")
    finally:
        os.close(fd)
    if len(text) > MAX_BYTES:
        raise UsageError(f"{path} is larger than 1 MiB: not a dotenv file")
    return text


def run(args) -> int:
    from authsome.credentials import CredentialService, check_connection_name
    from authsome.importing import REFUSED, SKIPPED, STORED, Outcome, import_variables
    from authsome.protocol.dotenv import parse

    connection = check_connection_name(args.connection)
    entries, problems = parse(_read(args.file, args.follow))
    variables = {e.name: e.value for e in entries}  # the last assignment wins, as in a shell
    service = CredentialService()
    outcomes = (
        import_variables(service, variables, connection=connection, keep_connected=not args.force)
        if variables
        else []
    )
    outcomes += [Outcome(f"line {p.line}", None, SKIPPED, p.message) for p in problems]
    if args.json:
        output.print_json([{"variable": o.variable, **_fields(o)} for o in outcomes])
    else:
        _print(outcomes)
    if any(o.result == REFUSED for o in outcomes):
        return 2
    if not any(o.result == STORED for o in outcomes):
        print(f"authsome: nothing to import from {args.file}", file=sys.stderr)
        return 2
    return 0


def _fields(o) -> dict:
    return {"provider": o.provider, "result": o.result, "reason": o.reason or None}


COLORS = {"stored": "32", "skipped": "2", "refused": "31"}


def _print(outcomes: list) -> None:
    rows = [
        [
            o.variable,
            o.provider or "-",
            output.paint(o.result, COLORS[o.result]),
            o.reason or "",
        ]
        for o in outcomes
    ]
    if rows:
        output.table(rows, ["VARIABLE", "PROVIDER", "RESULT", "DETAIL"])
