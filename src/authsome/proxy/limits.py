"""The proxy's limits and timeouts, in one place.

The child talks to the proxy over loopback, so a well-behaved client sends a request
head in microseconds: the header timeout only cuts off stalled or hostile clients
(slowloris). Upstream timeouts are as long as the API SDKs' own defaults (10 minutes
for a non-streaming completion), so the proxy never gives up before its client would.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_HEAD = 64 * 1024  # request line + header fields
MAX_HEADER_FIELDS = 256  # Apache allows 100, Node.js 2,000
HEADER_TIMEOUT = 30.0  # from the first byte of a request head (or TLS hello) to its end
IDLE_TIMEOUT = 120.0  # a keep-alive client connection with no request in flight
BODY_TIMEOUT = 120.0  # the longest silence inside a request body being uploaded
UPSTREAM_CONNECT_TIMEOUT = 15.0  # TCP + TLS to the real server
UPSTREAM_READ_TIMEOUT = 600.0  # the longest silence from the real server (head or body)

READ_SIZE = 256 * 1024  # one socket read
HIGH_WATER = 64 * 1024  # queued output before we wait for the socket to drain


class Limits(NamedTuple):
    # Not attrs: the proxy thread loads this while `authsome run -- true` may already be
    # waiting to stop it.
    max_head: int = MAX_HEAD
    max_header_fields: int = MAX_HEADER_FIELDS
    header_timeout: float = HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    upstream_connect_timeout: float = UPSTREAM_CONNECT_TIMEOUT
    upstream_read_timeout: float = UPSTREAM_READ_TIMEOUT
