"""`authsome agent status|stop`: the warm helper agent (see `authsome.agent`)."""

from __future__ import annotations

import argparse

from authsome import paths
from authsome.agent import client


def register(sub) -> None:
    p = sub.add_parser(
        "agent",
        help="show or stop the warm helper agent",
        description=(
            "The agent keeps the helpers' imports and unwrapped vault key warm so that "
            "`authsome-helper get` and the git/docker/kubectl adapters answer fast. It starts "
            "on demand, serves only your user, and exits after AUTHSOME_AGENT_TIMEOUT idle "
            "seconds (default 600). AUTHSOME_AGENT=0 turns it off."
        ),
        epilog="examples:\n  authsome agent status\n"
        "  authsome agent stop       forget the cached key now (e.g. after locking the keyring)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["status", "stop"])
    p.set_defaults(func=run)


def run(args) -> int:
    home = paths.home()
    info = client.control(home, args.action)
    disabled = "" if client.enabled() else " (disabled: AUTHSOME_AGENT=0)"
    if info is None:
        print(f"agent: not running{disabled}")
        return 3 if args.action == "status" else 0
    if args.action == "stop":
        print(f"agent: stopped (pid {info.get('pid')})")
        return 0
    print(
        f"agent: running{disabled} (pid {info.get('pid')}, up {info.get('uptime')} s, "
        f"{info.get('served')} requests served, {info.get('runs_ahead', 0)} of them runs "
        f"by a process made ahead; idle timeout {info.get('timeout')} s)\n"
        f"socket: {info.get('socket')}"
    )
    return 0
