"""An API key in the query of an intercepted request (`api_key.query_param`: SerpApi).

Pure bytes work on the request target: the key replaces whatever value the child sent
for that parameter (its placeholder, `authsome-proxy-managed`), so it is sent once.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_to_bytes


def set_query_param(target: bytes, name: str, value: str) -> bytes:
    """`target` (origin-form `path?query`) with each `name` parameter the child sent
    dropped and one `name=value` (percent-encoded) appended; other parameters keep
    their order and bytes."""
    path, _, query = target.partition(b"?")
    raw_name = name.encode("ascii")
    kept = [
        part
        for part in query.split(b"&")
        if part and unquote_to_bytes(part.split(b"=", 1)[0].replace(b"+", b" ")) != raw_name
    ]
    kept.append(raw_name + b"=" + quote(value, safe="").encode("ascii"))
    return path + b"?" + b"&".join(kept)
