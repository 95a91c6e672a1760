"""The hot path: hand out a valid cached credential without the heavy machinery.

`authsome-helper get`, the git/docker/k8s adapters and the shell worker run on every
git operation and prompt; each calls `answer` once. It reads the provider's raw JSON
(`providers.rules`) and one vault record, and answers there when the stored secret is
good for `min_ttl` more seconds; anything else (missing, expired, broken, templated)
goes to the full `credentials` service inside, which refreshes or raises the precise
error. Both build the answer with the same rules from the same raw definition.
"""

from __future__ import annotations

from authsome.providers.rules import all_providers_raw, fill_hosts, provider_raw
from authsome.records import CONNECTIONS, slot, usable, valid_name

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable


def answer(
    provider: str,
    connection: str = "default",
    min_ttl: float | Callable[[dict], float] = 60,
    *,
    missing_ok: bool = False,
    warn: Callable[[str], None] | None = None,
) -> dict | None:
    """The helper-protocol answer for a credential valid for `min_ttl` more seconds.

    The one answer path of every front end: a valid cached credential is read here
    without the heavy machinery; anything else goes to the full `credentials` service,
    which refreshes or raises the precise error. With `missing_ok`, a connection that
    does not exist answers None instead of raising NotFound. Refused inside `run`.
    The service's warnings (a token kept past a failed refresh) go to `warn`, the front
    end's choice.
    """
    from authsome.errors import refuse_inside_run

    refuse_inside_run("handing out a token")
    got = cached(provider, connection, min_ttl)
    if got is not None:
        return got
    from authsome.credentials import CredentialService
    from authsome.errors import NotFound

    service = CredentialService(warn=warn)
    try:
        if callable(min_ttl):
            min_ttl = min_ttl(service.record(provider, connection))
        return service.get(provider, connection, min_ttl).response()
    except NotFound:
        if missing_ok:
            return None
        raise


def stored_secret(provider: str, connection: str = "default") -> str | None:
    """The secret as stored (no refresh), to recognise it when a tool echoes it back."""
    from authsome.credentials import CredentialService
    from authsome.errors import NotFound
    from authsome.records import secret_of

    try:
        return secret_of(CredentialService().record(provider, connection))
    except NotFound:
        return None


def cached(
    provider: str,
    connection: str = "default",
    min_ttl: float | Callable[[dict], float] = 60,
) -> dict | None:
    """The helper-protocol answer for a valid cached credential, or None (use the service)."""
    if not valid_name(connection):  # the service says why (no file name to make of it)
        return None
    definition = provider_raw(provider)
    if definition is None:
        return None
    auth_type = definition.get("auth_type")
    env = definition.get("env")
    api_key_cfg = definition.get("api_key")
    oauth_cfg = definition.get("oauth")
    if auth_type not in ("oauth2", "api_key") or not isinstance(env, dict):
        return None
    if api_key_cfg is not None and not isinstance(api_key_cfg, dict):
        return None
    if oauth_cfg is not None and not isinstance(oauth_cfg, dict):
        return None
    from authsome.protocol.authheader import header_field_problem

    # A header the loader would reject: the service reports it (file and field).
    if header_field_problem(api_key_cfg) or header_field_problem(oauth_cfg, api_key=False):
        return None
    from authsome.vault.vault import Vault

    record = Vault().get(CONNECTIONS, slot(provider, connection))
    if record is None or record.get("auth_type") != auth_type:
        return None
    if not usable(record, min_ttl(record) if callable(min_ttl) else min_ttl):
        return None
    from authsome import audit
    from authsome.protocol.helper import credential_response

    audit.record("read", provider=provider, connection=connection)
    return credential_response(record, auth_type, env, api_key_cfg, oauth_cfg=oauth_cfg)


def stored_connections(
    home: str | None = None, providers: set[str] | None = None
) -> list[tuple[str, str, dict]]:
    """Stored (provider, connection, record) triples, decrypted, without the full service.

    With `providers`, only those providers' records are decrypted.
    """
    from authsome.vault.vault import Vault

    vault = Vault(home)
    out = []
    for entry in vault.names(CONNECTIONS):
        provider, _, connection = entry.partition(":")
        if providers is not None and provider not in providers:
            continue
        record = vault.get(CONNECTIONS, entry)
        if record is not None:
            out.append((provider, connection, record))
    return out


def matchable_providers(home: str | None = None, host: str | None = None) -> list[dict]:
    """Raw definitions to match hosts against, templates filled per stored connection.

    A templated provider (GitHub Enterprise, Zendesk, ...) has no hosts of its own: it
    appears once per connection, with that connection's values filled in and the
    connection's name under "_connection".
    """
    out, templated = [], []
    mentions = host.lower().rsplit(":", 1)[0].strip("[]") if host else None
    for data in all_providers_raw(home, mentions):
        if isinstance(data.get("templates"), dict) and data["templates"]:
            templated.append(data)
        else:
            out.append(data)
    if not templated:
        return out
    by_name = {d["name"]: d for d in templated}
    for provider, connection, record in stored_connections(home, set(by_name)):
        filled = fill_hosts(by_name[provider], record.get("params"))
        out.append(dict(filled, _connection=connection))
    return out
