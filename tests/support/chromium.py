"""Real headless Chromium for the login-page tests, driven by Playwright's Python package.

The browser is the system's (Debian's `chromium`, which `.ci/run` installs), never one
Playwright downloads. Each test gets a fresh profile. Every request the pages make is
recorded by `Traffic` (redirects included), and any off loopback is aborted, so a test
can assert the pages load nothing from outside (and no page request leaves the machine).

`CHROMIUM` overrides the executable; without it (or without Playwright) the tests skip
with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-proxy-server",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def executable() -> str:
    """The Chromium to drive, or skip the test saying why there is none."""
    pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is missing")
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.skip("no Chromium on this machine (apt-get install chromium); set CHROMIUM=path")
    return path


def _loopback(url: str) -> bool:
    return url.startswith(("data:", "about:")) or (urlsplit(url).hostname or "") in LOOPBACK


class Traffic:
    """Every request the pages made (redirects included), in order. Requests off
    loopback are aborted before they leave; `outside` lists them."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    @property
    def outside(self) -> list[str]:
        return [u for u in self.requests if not _loopback(u)]

    def seen(self, request) -> None:
        self.requests.append(request.url)

    def route(self, route) -> None:
        if _loopback(route.request.url):
            route.continue_()
        else:
            route.abort()


@contextmanager
def chromium(profile: Path, javascript: bool = True) -> Iterator[tuple[object, Traffic]]:
    """(a Playwright BrowserContext, its Traffic) in a fresh profile under `profile`."""
    from playwright.sync_api import sync_playwright

    path = executable()
    traffic = Traffic()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=path,
            headless=True,
            args=ARGS,
            java_script_enabled=javascript,
            env={**os.environ, "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": ""},
        )
        try:
            context.on("request", traffic.seen)
            context.route("**/*", traffic.route)
            yield context, traffic
        finally:
            context.close()
