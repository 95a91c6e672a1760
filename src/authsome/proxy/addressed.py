"""Which host a request inside an intercepted connection addresses, and whether it may
carry the token (SPEC §6.8). Pure; no I/O.

The token is chosen by the authority the child connected to (the CONNECT target, or
the SNI of the sandbox's direct-TLS listener). A server behind a shared CDN or API
gateway routes by `Host` or by an absolute-form target instead, so a request naming
another host there would take the token to another tenant: it gets `421 Misdirected
Request` (RFC 9110 §15.5.20) and is not forwarded. `TRACE` would echo the injected
header back to the child: `405`. A `CONNECT` inside the tunnel is refused the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from authsome.protocol.urls import URLRefused, host_port, split_authority, split_url

REFUSED_METHODS = frozenset({b"TRACE", b"CONNECT"})
ALLOWED = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


class Refusal(NamedTuple):
    status: int  # 400, 405 or 421
    text: str  # one line for the child
    host: str  # the host the request addressed (for the audit entry)


def check_addressed(
    expected: tuple[str, int],
    method: bytes,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]],
) -> Refusal | None:
    """None if the request addresses `expected` (host, port) -- the CONNECT or SNI
    authority -- through its `Host` field and any absolute-form target; else why not.

    Host names compare case-insensitively without a trailing dot; a port, where one is
    written, must be the connection's (clients leave it out for 443, and some for any
    port: the host is what routes to a tenant). Header names are lowercase, as the
    proxy's parser gives.
    """
    want = (expected[0].lower().rstrip("."), expected[1])
    shown = host_port(*want)
    hosts = [value for name, value in headers if name == b"host"]
    if len(hosts) > 1:
        return Refusal(400, "more than one Host field", shown)
    named = []  # every authority the request names; the absolute-form one first
    try:
        if not target.startswith((b"/", b"*")) and method != b"CONNECT":
            url = split_url(target.decode("ascii"))
            if url.scheme != "https":
                return Refusal(421, f"this connection is https://{shown} only", shown)
            named.append((url.host, url.port))
        if hosts:
            named.append(split_authority(hosts[0].decode("ascii").strip()))
    except (URLRefused, UnicodeDecodeError) as exc:
        return Refusal(400, f"bad Host or request target: {exc}", shown)
    if not named:  # a gateway may route a request naming no host to a default tenant
        return Refusal(421, f"this connection is for {shown}: the request names no host", shown)
    for addressed in named:
        if addressed[0] != want[0] or addressed[1] not in (0, want[1]):
            other = host_port(*addressed)
            return Refusal(421, f"this connection is for {shown}, not {other}", other)
    if method in REFUSED_METHODS:
        return Refusal(405, f"authsome: {method.decode()} is not forwarded with a token", shown)
    return None
