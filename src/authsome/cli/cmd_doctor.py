"""`authsome doctor`: checks the home, permissions, key source, vault and providers."""

from __future__ import annotations

import argparse

from authsome.cli import output


def register(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the setup and say what to fix",
        description="Check the home, file permissions, keyring backend, vault, providers, the "
        "proxy's CA and the shell hook. Exits 1 if anything fails.",
        epilog="example:\n  authsome doctor --json | jq '.[] | select(.level != \"ok\")'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    output.add_json(p)
    p.set_defaults(func=run)


MARKS = {"ok": ("ok  ", "32"), "warn": ("warn", "33"), "fail": ("FAIL", "31")}


def run(args) -> int:
    import attrs

    from authsome.doctor import FAIL, run_checks

    checks = run_checks()
    if args.json:
        output.print_json([attrs.asdict(c) for c in checks])
    else:
        for c in checks:
            mark, color = MARKS[c.level]
            print(f"[{output.paint(mark, color)}] {c.name}: {output.visible(c.message)}")
            if c.fix:
                print(f"       fix: {output.visible(c.fix)}")
    return 1 if any(c.level == FAIL for c in checks) else 0
