"""A PostgreSQL URL read the way libpq reads it (pure; no psycopg needed).

libpq's URI rules (fe-connect.c, conninfo_uri_parse_options) differ from a generic URL
parser in ways that matter for secrets: the user:password part runs to the first `@`
or `/`, so an unencoded `?` belongs to the password (`postgresql://u:ab?cd@h/db`);
query keys are percent-decoded too (`?%70assword=...` is `password`); and a secret
may also sit in `sslpassword`. Messages therefore never show the URL at all: `describe`
gives host[:port]/dbname, which is all a user needs to recognise the vault.

`tls_default` decides the TLS mode when the URL does not: `verify-full` for any host
that is not loopback or a unix socket (libpq's own default, `prefer`, falls back to
plaintext and checks no certificate).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote

SCHEMES = ("postgresql://", "postgres://")
SECRET_KEYS = ("password", "sslpassword")
WEAK_MODES = ("disable", "allow", "prefer", "require", "verify-ca")


def parse(url: str) -> dict[str, str]:
    """The connection parameters a postgresql:// URL sets, as libpq would read them."""
    scheme = next((s for s in SCHEMES if url.startswith(s)), None)
    if scheme is None:
        return {}
    rest = url[len(scheme) :]
    out: dict[str, str] = {}
    at = _first_of(rest, "@/")
    if at < len(rest) and rest[at] == "@":
        user, colon, password = rest[:at].partition(":")
        if user:
            out["user"] = unquote(user)
        if colon:
            out["password"] = unquote(password)
        rest = rest[at + 1 :]
    end = _first_of(rest, "/?")
    hosts, ports = [], []
    for spec in rest[:end].split(","):
        if spec.startswith("["):
            host, _, tail = spec[1:].partition("]")
            port = tail[1:] if tail.startswith(":") else ""
        else:
            host, _, port = spec.partition(":")
        hosts.append(unquote(host))
        ports.append(port)
    if any(hosts):
        out["host"] = ",".join(hosts)
    if any(ports):
        out["port"] = ",".join(ports)
    rest = rest[end:]
    if rest.startswith("/"):
        db, _, rest = rest[1:].partition("?")
        if db:
            out["dbname"] = unquote(db)
        rest = "?" + rest if rest else ""
    if rest.startswith("?"):
        for part in rest[1:].split("&"):
            key, _, value = part.partition("=")
            if key:
                out[unquote(key)] = unquote(value)
    if out.get("ssl") == "true":  # libpq maps the JDBC spelling
        del out["ssl"]
        out.setdefault("sslmode", "require")
    return out


def _first_of(text: str, chars: str) -> int:
    found = [i for i in (text.find(c) for c in chars) if i >= 0]
    return min(found) if found else len(text)


def has_secret(url: str) -> bool:
    """The URL carries a password (in the user part or a query parameter)."""
    params = parse(url)
    return any(params.get(k) for k in SECRET_KEYS)


def describe(url: str) -> str:
    """host[:port]/dbname: how messages name the vault (never the URL itself)."""
    params = parse(url)
    if not params and not url.startswith(SCHEMES):
        return "the configured database"
    host = params.get("host") or params.get("hostaddr") or "local socket"
    port = params.get("port")
    if "@" in host or any(p and not p.isdigit() for p in (port or "").split(",")):
        # A password with an unencoded `@` or `/` spills into libpq's host or port.
        return "the configured database (its URL does not parse as intended)"
    dbname = params.get("dbname") or params.get("user") or ""
    where = f"{host}:{port}" if port and "," not in host else host
    return f"{where}/{dbname}"


def is_local(params: dict[str, str], env_host: str | None = None) -> bool:
    """Every host and hostaddr is a unix socket directory or a loopback address."""
    names = [h for h in (params.get("host") or env_host or "").split(",") if h]
    names += [h for h in params.get("hostaddr", "").split(",") if h]
    return all(_local(n) for n in names)  # no host at all: libpq's default socket


def _local(host: str) -> bool:
    if host.startswith("/") or host.startswith("@") or host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_default(params: dict[str, str], env: dict[str, str]) -> str | None:
    """The sslmode to add, or None when the URL or PGSSLMODE chose one, or it is local."""
    if params.get("sslmode") or env.get("PGSSLMODE") or params.get("requiressl"):
        return None
    return None if is_local(params, env.get("PGHOST")) else "verify-full"


def tls_mode(url: str, env: dict[str, str]) -> tuple[str, str]:
    """(sslmode in force, why): for doctor. `why` is default / explicit / local."""
    params = parse(url)
    chosen = params.get("sslmode") or env.get("PGSSLMODE")
    if chosen:
        return chosen, "explicit"
    default = tls_default(params, env)
    return (default, "default") if default else ("prefer", "local")
