"""`authsome log`: the last audit events."""

from __future__ import annotations

import argparse

from authsome.cli import output
from authsome.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser(
        "log",
        help="show the last audit events",
        description="Show the last events of the audit log ($AUTHSOME_HOME/audit.log).",
        epilog="example:\n  authsome log -n 50 --provider hubspot --since 1h",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", type=int, default=20, metavar="N", help="how many events (default 20)")
    p.add_argument("--provider", metavar="P", help="only this provider's events")
    p.add_argument(
        "--since", metavar="WHEN", help="only newer events: 30m, 2h, 1d or an RFC 3339 time"
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="check the shared vault's audit chain (deleted or edited entries)",
    )
    output.add_json(p)
    p.set_defaults(func=run)


def since_epoch(text: str) -> float:
    import time

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    from authsome.records import parse_rfc3339

    try:
        return parse_rfc3339(text)
    except ValueError:
        raise UsageError(
            f"--since: '{text}' is neither a duration (30m, 2h, 1d) nor an RFC 3339 time"
        )


def verify(args) -> int:
    """`log --verify`: 0 when the chain holds, 1 (one line naming the entry) when not."""
    import sys

    from authsome.vault.backends import shared_backend

    shared = shared_backend()
    if shared is None:
        raise UsageError("--verify checks a shared vault's audit chain; none is configured")
    state = shared.verify_audit()
    if args.json:
        output.print_json(state)
    broken = state["broken_at"]
    if broken is not None:
        print(
            f"authsome: the audit chain is broken at entry {broken}: entries before it were "
            "deleted or edited, or it was inserted outside authsome",
            file=sys.stderr,
        )
        return 1
    if not args.json:
        print(audit_summary(state))
    return 0


def audit_summary(state: dict) -> str:
    text = f"audit chain intact: {state['entries']} entries"
    if state["unchained"]:
        text += f" ({state['unchained']} from before the chain began)"
    return text


def run(args) -> int:
    from authsome import audit

    if args.verify:
        return verify(args)
    if args.n < 0:
        raise UsageError("-n must be zero or more")
    since = since_epoch(args.since) if args.since else None
    events = audit.tail(args.n, provider=args.provider, since=since) if args.n else []
    if args.json:
        output.print_json(events)
        return 0
    for e in events:
        rest = " ".join(
            f"{k}={v}" for k, v in e.items() if k not in ("time", "event", "provider", "connection")
        )
        who = f"{e.get('provider', '')}{':' + e['connection'] if e.get('connection') else ''}"
        line = f"{e.get('time', '')}  {e.get('event', ''):<14} {who:<24} {rest}".rstrip()
        print(output.visible(line))
    return 0
