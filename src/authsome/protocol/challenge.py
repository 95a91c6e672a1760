"""WWW-Authenticate challenges (RFC 9110 §11.6.1, RFC 6750 §3): pure, `re` only.

Read by MCP discovery (`resource_metadata`, `scope` on a 401) and by the proxy, which
turns a 403 `insufficient_scope` into a step-up hint (RFC 6750 §3.1; MCP 2025-11-25).
"""

from __future__ import annotations

import re

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')
_SCHEME = re.compile(rf"({_TOKEN})(?:\s+[A-Za-z0-9._~+/-]+=*(?=\s*(?:,|$)))?")


def bearer_challenge(header: str | None) -> dict[str, str] | None:
    """The parameters of the Bearer challenge in a WWW-Authenticate value (names
    lowercased, quoted strings unescaped), or None if it has no Bearer challenge."""
    challenges: list[tuple[str, dict[str, str]]] = []
    text = header or ""
    pos = 0
    while pos < len(text):
        if text[pos] in " \t,":
            pos += 1
            continue
        m = _PARAM.match(text, pos)
        if m and challenges:
            value = m.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            challenges[-1][1].setdefault(m.group(1).lower(), value)
            pos = m.end()
            continue
        m = _SCHEME.match(text, pos)
        if not m:
            break  # not a challenge we can read; keep what came before
        challenges.append((m.group(1).lower(), {}))
        pos = m.end()
    for scheme, params in challenges:
        if scheme == "bearer":
            return params
    return None


def insufficient_scope(header: str | None) -> list[str] | None:
    """The scopes a 403's Bearer challenge says are needed ([] if it names none), or
    None when the challenge is not `insufficient_scope`."""
    params = bearer_challenge(header)
    if params is None or params.get("error") != "insufficient_scope":
        return None
    return params.get("scope", "").split()


def step_up_message(provider: str, connection: str, scopes: list[str]) -> str:
    """One line: which scopes are missing and the login that adds them."""
    extra = "" if connection == "default" else f" --connection {connection}"
    if not scopes:
        return (
            f"{provider} ({connection}): the server answered 403 insufficient_scope without "
            f"naming the scope; log in again with `authsome login {provider}{extra} --scopes ...`"
        )
    return (
        f"{provider} ({connection}) needs scope {' '.join(scopes)} that its token lacks: "
        f"run `authsome login {provider}{extra} --scopes {','.join(scopes)}`"
    )
