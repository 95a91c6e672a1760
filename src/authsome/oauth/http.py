"""Outbound HTTP for the OAuth engine (and TLS trust for the proxy).

One place decides which endpoints we talk to at all: `https://`, or `http://` on a
loopback host only (local development and tests); TLS trust comes from `oauth.tls`
(re-exported here as `ssl_context`).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx

from authsome import __version__
from authsome.errors import UsageError
from authsome.oauth.tls import ssl_context

# Every call has a timeout: a hung provider must not hang a git operation or a prompt.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
LOOPBACK_NAMES = ("localhost",)


__all__ = ["check_endpoint", "make_client", "ssl_context"]


def make_client(timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> httpx.Client:
    """The httpx client every OAuth request goes through."""
    return httpx.Client(
        verify=ssl_context(),
        timeout=timeout,
        follow_redirects=False,  # a token endpoint that redirects is misconfigured; do not resend
        headers={"User-Agent": f"authsome/{__version__}", "Accept": "application/json"},
    )


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str | None, what: str) -> str:
    """Refuse an endpoint we must not send credentials to; returns the url."""
    if not url:
        raise UsageError(f"the provider has no {what}")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return url
    raise UsageError(f"{what} must be https:// (http:// only on loopback): {_redact(url)}")


def _redact(url: str) -> str:
    # Error messages never carry query strings (they may hold codes or tokens).
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def describe_transport_error(exc: httpx.HTTPError, url: str) -> str:
    """One line for a failed request, without the query string."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"cannot reach {_redact(url)} ({detail})"
