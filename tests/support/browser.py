#!/usr/bin/env python3
"""A browser stand-in for tests: `BROWSER="<python> /abs/tests/support/browser.py %s"`.

It behaves like a user who clicks "allow": it opens the URL and follows every redirect,
including the last one to the loopback callback. Like a real browser it returns at once
(Python's webbrowser waits for the command), leaving a detached child to do the visiting.

Environment:
  AUTHSOME_TEST_BROWSER_LOG=/path     append each URL visited, one a line (the first
                                      line is written before returning, so it is there
                                      as soon as webbrowser.open() is)
  AUTHSOME_TEST_BROWSER_ACTION=ignore only log the URL: a user who never comes back
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

LOG_ENV = "AUTHSOME_TEST_BROWSER_LOG"
ACTION_ENV = "AUTHSOME_TEST_BROWSER_ACTION"


def browser_command() -> str:
    """The BROWSER value that makes webbrowser use this script with the running Python."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(__file__))} %s"


def _log(url: str) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(url + "\n")


class _LoggingRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str):
        _log(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def follow(url: str) -> None:
    """GET url and every redirect after it, like a browser would; ignore the outcome."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _LoggingRedirects())
    try:
        with opener.open(url, timeout=30) as resp:
            resp.read()
    except (urllib.error.URLError, OSError, ValueError):
        pass  # the page said no, or the callback server already went away


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--follow":
        follow(argv[1])
        return 0
    if len(argv) != 1:
        print("usage: browser.py URL", file=sys.stderr)
        return 2
    url = argv[0]
    _log(url)
    if os.environ.get(ACTION_ENV) != "ignore":
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--follow", url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
