"""The credential helper dialect of Bazel (and tools that copied it), sans-IO.

The tool writes `{"uri": "https://..."}` and reads `{"headers": {"Name": ["value"]},
"expires": "<RFC 3339>"}`; `{}` means "no credentials for this URI".
"""

from __future__ import annotations

import json

from authsome.errors import UsageError
from authsome.protocol import urls

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class HeadersRequestError(UsageError):
    """A request without a usable `uri`."""


def parse_uri(request: dict) -> tuple[str, str, str]:
    """`uri` -> (scheme, host[:port], path): read by the one URL rule (`urls.split_url`:
    a URI with userinfo or a backslash, which browsers and this code could read as two
    different hosts, is refused); host lower-cased, default port dropped, query and
    fragment ignored. Stdlib string work only: this is on the hot path."""
    uri = request.get("uri")
    if not isinstance(uri, str) or not uri:
        raise HeadersRequestError("request needs a string field 'uri'")
    try:
        url = urls.split_url(uri)
    except urls.URLRefused as exc:
        raise HeadersRequestError(f"'uri' refused: {exc}") from None
    return url.scheme, urls.host_port(url.host, url.port, url.scheme), url.path


def may_send_token(scheme: str, host: str) -> bool:
    """Tokens go over TLS only (plain http to loopback is allowed for local work)."""
    if scheme == "https":
        return True
    name = host if host.endswith("]") else host.rsplit(":", 1)[0]
    return scheme == "http" and name in LOOPBACK


def format_response(headers: dict[str, str], expires: str | None) -> bytes:
    """Each header as a one-value list, as the protocol wants; `expires` when known."""
    doc: dict = {"headers": {name: [value] for name, value in headers.items()}}
    if expires:
        doc["expires"] = expires
    return (json.dumps(doc) + "\n").encode()


EMPTY = b"{}\n"
