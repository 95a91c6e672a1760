"""`json.loads` and `json.dumps` for the hot path, without importing `json`.

Importing `json` imports `re` and `enum` for its pure-Python fallbacks: about 5 ms on a
quiet machine, a fifth of `authsome-helper get` without the agent. The work itself is
done by the same C scanner and encoder (`_json`) that `json` runs; anything they do not
take as it is (a byte-order mark, UTF-16, bad JSON, an unserialisable object) is handed
to `json` itself, so results, errors and messages are json's own.
"""

from __future__ import annotations

import _json

WHITESPACE = " \t\n\r"
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _Decoding:
    """What the C scanner reads from a `json.JSONDecoder()` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return float({"-Infinity": "-inf", "Infinity": "inf", "NaN": "nan"}[name])


_scan = _json.make_scanner(_Decoding)


def _not_plain(obj: object) -> object:
    raise TypeError  # an object the plain encoder does not know


def loads(text: str | bytes | bytearray) -> object:
    """As `json.loads(text)`."""
    if isinstance(text, (bytes, bytearray)):
        # UTF-8 without a byte-order mark is ours; json detects the other encodings.
        if b"\x00" in text[:4] or text.startswith(BOMS):
            return _json_loads(text)
        text = text.decode("utf-8", "surrogatepass")
    elif not isinstance(text, str) or text.startswith("\ufeff"):
        return _json_loads(text)
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = _scan(text, start)
    except Exception:
        # needs json.decoder imported to raise its error: a fresh process gets SystemError)
        return _json_loads(text)
    if text[end:].strip(WHITESPACE):  # extra data after the value
        return _json_loads(text)
    return value


def dumps(obj: object, separators: tuple[str, str] = (", ", ": ")) -> str:
    """As `json.dumps(obj, separators=separators)`."""
    item, key = separators
    encode = _json.make_encoder(
        {}, _not_plain, _json.encode_basestring_ascii, None, key, item, False, False, True
    )
    try:
        return "".join(encode(obj, 0))
    except Exception:
        import json

        return json.dumps(obj, separators=separators)


def _json_loads(text: object) -> object:
    import json

    return json.loads(text)  # type: ignore[arg-type]
