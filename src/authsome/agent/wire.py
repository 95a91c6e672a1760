"""The agent's framing: length-prefixed byte fields, no imports (the client is hot).

A message is a 4-byte big-endian length and that many bytes of fields; a field is a
4-byte length and its bytes. Lists nest by encoding a field list into one field.
"""

from __future__ import annotations

MAGIC = b"authsome-agent/1\n"  # bumped with any change of the request or reply layout
MAX_MESSAGE = 8 << 20  # stdin (1 MiB) + environment + output, with room to spare
ACCEPTED = b"+"  # the agent runs the request; anything else refuses it (client runs it)


def encode_fields(fields: list[bytes]) -> bytes:
    return b"".join(len(f).to_bytes(4, "big") + f for f in fields)


def decode_fields(data: bytes) -> list[bytes]:
    """The fields of `data`; ValueError if it is not exactly a sequence of fields."""
    out, i, end = [], 0, len(data)
    while i < end:
        if i + 4 > end:
            raise ValueError("truncated field length")
        n = int.from_bytes(data[i : i + 4], "big")
        i += 4
        if i + n > end:
            raise ValueError("truncated field")
        out.append(data[i : i + n])
        i += n
    return out


def frame(fields: list[bytes]) -> bytes:
    body = encode_fields(fields)
    return len(body).to_bytes(4, "big") + body


def read_exact(recv, n: int) -> bytes:
    """n bytes from `recv` (a socket's recv); ValueError on EOF first."""
    chunks, got = [], 0
    while got < n:
        chunk = recv(min(n - got, 1 << 16))
        if not chunk:
            raise ValueError("connection closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(recv) -> list[bytes]:
    n = int.from_bytes(read_exact(recv, 4), "big")
    if n > MAX_MESSAGE:
        raise ValueError("message too large")
    return decode_fields(read_exact(recv, n))
