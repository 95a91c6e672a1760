"""What the terminal shows during a login: the URL (opened or printed) and one status
line with what we wait for, the time left and how to cancel. Messages go to stderr;
with --no-browser the URL itself also goes to stdout, alone on its line, for scripts.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import webbrowser

from authsome.errors import Interrupted, TimedOut


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def show_url(url: str, *, what: str, open_browser: bool) -> None:
    """Open `url` in the browser (BROWSER honoured) or print it for the user to open."""
    if open_browser:
        try:
            opened = webbrowser.open(url)
        except Exception:  # a broken BROWSER setting must not end the login
            opened = False
        if opened:
            say(f"Opened your browser to {what}. If it did not open, visit:\n  {url}")
            return
        say("Could not open a browser.")
    say(f"Open this URL in a browser to {what}:")
    print(url, flush=True)


class Deadline:
    """The login's time budget. `wait` and `sleep` block while one status line ticks."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self._line: _StatusLine | None = None

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def wait(self, event: threading.Event, what: str) -> None:
        """Return once `event` is set; TimedOut on timeout, Interrupted on Ctrl-C."""
        self._block(event, self.end, what)
        if not event.is_set():
            raise self.timed_out(what)

    def sleep(self, seconds: float, what: str) -> None:
        """Sleep (a polling interval) without running past the deadline; Ctrl-C cancels."""
        self._block(threading.Event(), min(self.end, time.monotonic() + seconds), what)

    def done(self) -> None:
        """Clear the status line (call once the wait is over, whatever the outcome)."""
        if self._line is not None:
            self._line.clear()
            self._line = None

    def timed_out(self, what: str) -> TimedOut:
        self.done()
        return TimedOut(f"timed out after {self.seconds:g} s waiting for {what}")

    def _block(self, event: threading.Event, until: float, what: str) -> None:
        if self._line is None or self._line.what != what:
            self.done()
            self._line = _StatusLine(what)
        try:
            while not event.is_set() and (left := until - time.monotonic()) > 0:
                self._line.show(self.left())
                event.wait(min(1.0, left))
        except KeyboardInterrupt:
            self.done()
            raise Interrupted("login cancelled")


class _StatusLine:
    """One line, rewritten in place on a terminal; printed once when stderr is not a TTY."""

    def __init__(self, what: str):
        self.what = what
        self.tty = sys.stderr.isatty()
        self.shown = False

    def show(self, left: float) -> None:
        minutes, seconds = divmod(math.ceil(left), 60)
        text = f"Waiting for {self.what}: {minutes}:{seconds:02d} left (Ctrl-C to cancel)"
        if self.tty:
            sys.stderr.write(f"\r\x1b[2K{text}")
            sys.stderr.flush()
        elif not self.shown:
            say(text)
        self.shown = True

    def clear(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
