"""Which storage backend the vault uses: the local files, or a shared PostgreSQL vault.

`AUTHSOME_VAULT_URL=postgresql://...` wins; else `vault_url` in `$AUTHSOME_HOME/config`
(TOML, e.g. `vault_url = "postgresql://authsome@db.internal/authsome"`); else the local
file vault. Import-light: the hot path calls this on every run, so the default costs an
environment lookup and one stat, and psycopg is imported only when a URL is configured.
Keep the database password out of the URL: libpq reads PGPASSWORD and ~/.pgpass.
"""

from __future__ import annotations

import os

from authsome import paths
from authsome.errors import VaultUnavailable

CONFIG_FILE = "config"
URL_ENV = "AUTHSOME_VAULT_URL"
SCHEMES = ("postgresql://", "postgres://")

_shared: dict[str, object] = {}  # one backend (one connection) per URL per process


def config_path(home: str | None = None) -> str:
    return os.path.join(home or paths.home(), CONFIG_FILE)


def read_config(home: str | None = None) -> dict:
    """The home's config file as a dict ({} when there is none)."""
    path = config_path(home)
    if not os.path.exists(path):
        return {}
    import tomllib

    try:
        return tomllib.loads(paths.read_regular(path).decode())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise VaultUnavailable(f"{path} is not a readable TOML file ({why})") from None


def check_url(url: str, where: str) -> str:
    if not isinstance(url, str) or not url.startswith(SCHEMES):
        raise VaultUnavailable(f"{where} must be a postgresql:// URL")
    return url


def configured_url(home: str | None = None) -> str | None:
    """The shared vault's URL, or None for the local file vault."""
    env = os.environ.get(URL_ENV, "").strip()
    if env:
        return check_url(env, URL_ENV)
    url = read_config(home).get("vault_url")
    if url in (None, ""):
        return None
    return check_url(url, f"vault_url in {config_path(home)}")


def redact(url: str) -> str:
    """How messages name the vault: host[:port]/dbname, never the URL (see pgurl)."""
    from authsome.vault.pgurl import describe

    return describe(url)


def postgres(url: str):
    """The process's backend for this URL (made on first use, connected lazily)."""
    backend = _shared.get(url)
    if backend is None:
        from authsome.vault.postgres import PostgresBackend

        backend = _shared[url] = PostgresBackend(url)
    return backend


def shared_backend(home: str | None = None):
    """The PostgreSQL backend when a shared vault is configured, else None."""
    url = configured_url(home)
    return None if url is None else postgres(url)


def open_backend(home: str):
    """The backend for `home`'s vault."""
    shared = shared_backend(home)
    if shared is not None:
        return shared
    from authsome.vault.files import FileBackend

    return FileBackend(paths.vault_dir(home))
