"""The one rule for reading a host out of a URL or an authority, sans-IO.

Used wherever a token may follow the host: the headers, git and docker adapters and
the proxy. Browsers and most HTTP clients parse URLs the WHATWG way, which differs from
RFC 3986 on exactly the characters an attacker picks: `\\` is a `/` there, so
`https://evil.test\\@api.example.test/` addresses `evil.test`, while a naive split on
`@` reads `api.example.test`. Rather than imitate one parser, we refuse what parsers
disagree on: userinfo (`@`), backslashes, whitespace and control characters, percent
escapes and non-ASCII in the host. What is left reads the same in every parser.

Stdlib string work only: this is on the helpers' hot path.
"""

from __future__ import annotations

DEFAULT_PORTS = {"https": 443, "http": 80}
# Letters, digits, '-', '.', '_' (some internal hosts use it); IPv6 goes in brackets.
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")
_V6_CHARS = frozenset("0123456789abcdef:.")


class URLRefused(ValueError):
    """A URL or authority whose host parsers could read differently."""


class URL:
    """A URL as the rule reads it. A plain class: `typing.NamedTuple` would import
    `typing` (a few ms) on every adapter run."""

    __slots__ = ("host", "path", "port", "scheme")

    def __init__(self, scheme: str, host: str, port: int, path: str):
        self.scheme = scheme  # lower case
        self.host = host  # lower case, no trailing dot; IPv6 without brackets
        self.port = port  # as written in the URL; 0 if none was (the scheme's default applies)
        self.path = path  # '/...' without query or fragment


def _check_chars(text: str, what: str) -> None:
    if "\\" in text:
        raise URLRefused(f"{what} contains a backslash")
    if any(c <= " " or c == "\x7f" for c in text):
        raise URLRefused(f"{what} contains whitespace or a control character")


def split_authority(authority: str, default_port: int = 0) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' -> (host, port). URLRefused for userinfo,
    an empty or odd host, or a bad port. Host lower-cased, a trailing dot dropped."""
    _check_chars(authority, "authority")
    if "@" in authority:
        raise URLRefused("URL carries a user name or password (userinfo)")
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = authority[1:end].lower(), authority[end + 1 :]
        if end < 0 or not host or not set(host) <= _V6_CHARS or host.count(":") < 2:
            raise URLRefused(f"bad IPv6 host in '{authority}'")
    else:
        host, colon, port_text = authority.partition(":")
        rest = colon + port_text
        host = host.lower()
        if host.endswith("."):
            host = host[:-1]
        if not host or not set(host) <= _HOST_CHARS or ".." in host or host[0] in ".-":
            raise URLRefused(f"bad host in '{authority}'")
    if not rest:
        return host, default_port
    port_text = rest[1:]
    if not rest.startswith(":") or not port_text.isascii() or not port_text.isdigit():
        raise URLRefused(f"bad port in '{authority}'")
    port = int(port_text)
    if not 0 < port < 65536:
        raise URLRefused(f"bad port in '{authority}'")
    return host, port


def split_url(url: str) -> URL:
    """An absolute `scheme://authority/path` URL, read by the rule above."""
    _check_chars(url, "URL")
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not scheme.isascii() or not scheme.isalpha():
        raise URLRefused("not an absolute URL (scheme://host/...)")
    scheme = scheme.lower()
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host, port = split_authority(rest[:end])
    path = rest[end:]
    for stop in "?#":
        path = path.split(stop, 1)[0]
    return URL(scheme, host, port, path or "/")


def host_port(host: str, port: int, scheme: str = "https") -> str:
    """The authority as the matching rules take it: the scheme's default port left out."""
    name = f"[{host}]" if ":" in host else host
    return name if port in (0, DEFAULT_PORTS.get(scheme)) else f"{name}:{port}"


def normal_authority(authority: str, scheme: str = "https") -> str:
    """An authority as the matching rules compare it (lower case, no trailing dot, the
    scheme's default port left out). URLRefused as `split_authority`."""
    host, port = split_authority(authority)
    return host_port(host, port, scheme)


def is_ip_address(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (brackets allowed); `ipaddress` loads only here."""
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
