"""`authsome allow [DIR]` / `authsome deny [DIR]`: approve or block a project file."""

from __future__ import annotations

import argparse
import os
import sys

from authsome.errors import UsageError
from authsome.shell import approval, project


def register(sub) -> None:
    for name, text in (
        ("allow", "approve the .authsome.toml governing DIR (its exact content)"),
        ("deny", "block the .authsome.toml governing DIR until it is allowed again"),
    ):
        p = sub.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ". DIR defaults to the current one; "
            "the nearest project file from DIR upward is the one that governs it.",
            epilog=f"examples:\n  authsome {name}\n  authsome {name} ~/src/app",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("dir", nargs="?", default=".", metavar="DIR")
        p.set_defaults(func=run, action=name)


def locate(target: str) -> str:
    """The project file for DIR (or the file itself, when given one)."""
    if os.path.isfile(target):
        if os.path.basename(target) != project.FILENAME:
            raise UsageError(f"{target} is not a {project.FILENAME} file")
        return os.path.abspath(target)
    if not os.path.isdir(target):
        raise UsageError(f"no such directory: {target}")
    found = project.find(target)
    if found is None:
        raise UsageError(f"no {project.FILENAME} in {os.path.abspath(target)} or its parents")
    return found


def run(args) -> int:
    path = locate(args.dir)
    try:
        content = project.read(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}")
    if args.action == "deny":
        approval.deny(path, content)
        print(f"authsome: blocked {path}", file=sys.stderr)
        return 0
    try:
        approval.allow(path, content)
    except project.ProjectError as exc:
        raise UsageError(f"{path}: {exc}; not allowed")
    print(f"authsome: allowed {path}", file=sys.stderr)
    warn_unknown_providers(path, project.parse(content))
    return 0


def warn_unknown_providers(path: str, entries) -> None:
    """Say now, not at every prompt, which entries name no provider (with the nearest)."""
    from authsome.cli import output
    from authsome.errors import UnknownProvider
    from authsome.providers import load_registry

    registry = load_registry()
    for entry in entries:
        try:
            name = registry.resolve(entry.provider)
        except UnknownProvider as exc:
            output.warn(f"{path}: {entry.name}: {exc}")
            continue
        if name != entry.provider:
            output.warn(f"{path}: {entry.name}: the provider is spelled '{name}'")
