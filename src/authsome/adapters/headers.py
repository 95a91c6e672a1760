"""`authsome-helper headers`: a Bazel-style credential helper (`{"uri": ...}` in,
`{"headers": {...}, "expires": ...}` out) for the provider whose `api_url` covers the URI.

Bazel runs `<helper> get` and cannot pass other arguments, so a one-line wrapper
(`exec authsome-helper headers "$@"`) is the helper it is given; the trailing `get`
arrives here as `provider` and means nothing.
"""

from __future__ import annotations

import sys

from authsome.entrypoints import stderr_report, warn
from authsome.protocol import bazel as proto

PROG = "authsome-helper headers"


def provider_for(host: str, path: str) -> tuple[str, str | None] | None:
    """(provider, connection or None) whose api_url covers host+path.

    Exact beats regex and a longer prefix wins; a templated provider's hosts come from
    its stored connections, which then also name the connection to use.
    """
    from authsome.fastpath import matchable_providers
    from authsome.providers.matching import match_url

    candidates = [
        ((p["name"], p.get("_connection")), entry)
        for p in matchable_providers(host=host)
        if isinstance(p.get("name"), str)
        for entry in p.get("api_url") or ()
        if isinstance(entry, str) and "{" not in entry
    ]
    return match_url(candidates, host, path)


def serve(provider: str | None, connection: str, request: dict) -> int:
    scheme, host, path = proto.parse_uri(request)
    reply = proto.EMPTY
    if provider in (None, "get"):
        match = provider_for(host, path)
        provider, connection = (
            (match[0], match[1] or connection) if match is not None else (None, connection)
        )
    if provider is not None and proto.may_send_token(scheme, host):
        from authsome.fastpath import answer

        # No connection: no credentials for this URI, the tool goes on without them.
        got = answer(provider, connection, request.get("min_ttl", 60), missing_ok=True, warn=warn)
        # A key that goes only in a URL query (api_key.query_param) has no header to
        # give: `{}`, as for a URI without credentials (the query is the tool's own).
        if got is not None and got["headers"]:
            reply = proto.format_response(got["headers"], got.get("expires_at"))
    sys.stdout.buffer.write(reply)
    sys.stdout.flush()
    return 0


report = stderr_report(PROG)  # Bazel shows a helper's stderr
