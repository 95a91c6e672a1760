"""A 403 `insufficient_scope` seen by the proxy: one line on run's stderr, and a hint
kept with the connection so `authsome-helper get` can say the same afterwards.

The token keeps being injected: other requests may need only the scopes it has.
"""

from __future__ import annotations

from collections.abc import Callable

from authsome.protocol.challenge import insufficient_scope, step_up_message


class StepUp:
    """`on_forbidden(route, response headers)` for the Forwarder."""

    def __init__(
        self, note: Callable[[str, str, list[str]], None], warn: Callable[[str], None]
    ) -> None:
        self.note = note  # keeps the hint in the connection's record
        self.warn = warn
        self._told: set[tuple[str, str, tuple[str, ...]]] = set()

    def __call__(self, route: tuple[str, str], headers: list[tuple[bytes, bytes]]) -> None:
        values = [v.decode("latin-1") for n, v in headers if n.lower() == b"www-authenticate"]
        scopes = insufficient_scope(", ".join(values))
        if scopes is None:
            return
        key = (route[0], route[1], tuple(scopes))
        if key in self._told:  # once per run and scope set, not once per request
            return
        self._told.add(key)
        self.warn(step_up_message(route[0], route[1], scopes))
        try:
            self.note(route[0], route[1], scopes)
        except Exception as exc:  # the hint is a convenience; the line above was said
            self.warn(f"{route[0]}/{route[1]}: could not keep the step-up hint: {exc}")
