"""The one credential service every front end calls: get (refreshing), store, erase, list.

Refresh is single-flight across processes: take the connection's lock, re-read the
record, refresh only if it still needs it, keep the rotated refresh token, write,
release. Providers that rotate refresh tokens break when two processes refresh at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from authsome import audit
from authsome.errors import (
    AuthsomeError,
    NetworkError,
    NotFound,
    OAuthError,
    ReauthRequired,
    UsageError,
)
from authsome.oauth.tokens import ClientCredentials, TokenSet
from authsome.protocol.authheader import injection, secret_headers, secret_problem
from authsome.protocol.helper import credential_response, env_for
from authsome.providers import Provider, load_registry
from authsome.providers.templates import fill_provider
from authsome.records import (
    CLIENTS,
    CONNECTIONS,
    new_record,
    parse_slot,
    secret_of,
    slot,
    status_of,
    usable,
    valid_name,
)
from authsome.vault.vault import Vault


def check_connection_name(connection: str) -> str:
    if not valid_name(connection):
        raise UsageError(
            f"bad connection name '{connection}': use letters, digits, '.', '_', '@' or '-'"
        )
    return connection


@attrs.define
class Credential:
    """A usable credential, as the front ends see it. The refresh token stays inside."""

    provider: Provider
    record: dict = attrs.field(repr=False)

    @property
    def connection(self) -> str:
        return self.record["connection"]

    @property
    def auth_type(self) -> str:
        return self.provider.auth_type

    @property
    def status(self) -> str:
        return status_of(self.record)

    @property
    def token_type(self) -> str:
        return self.record.get("token_type") or "Bearer"

    @property
    def access_token(self) -> str | None:
        return self.record.get("access_token")

    @property
    def api_key(self) -> str | None:
        return self.record.get("api_key")

    @property
    def secret(self) -> str:
        return secret_of(self.record) or ""

    @property
    def expires_at(self) -> int | None:
        return self.record.get("expires_at")

    @property
    def expires_in(self) -> int | None:
        exp = self.expires_at
        return None if exp is None else max(0, int(exp - time.time()))

    @property
    def scopes(self) -> list[str]:
        return list(self.record.get("scopes") or [])

    @property
    def params(self) -> dict[str, str]:
        return dict(self.record.get("params") or {})

    @property
    def headers(self) -> dict[str, str]:
        """The headers that carry the secret; {} for a key that goes in the query."""
        return self._by_rule(secret_headers)

    @property
    def injection(self) -> tuple[str, str]:
        """What the proxy sets on each request (authheader.injection)."""
        return self._by_rule(injection)

    def _by_rule(self, rule):
        """An `authheader` rule applied to this secret and the provider's raw blocks."""
        return rule(
            self.auth_type,
            self.provider.api_key_block,
            self.secret,
            self.token_type,
            self.provider.oauth_block,
        )

    @property
    def env(self) -> dict[str, str]:
        return env_for(self.auth_type, self.provider.env, self.provider.api_key_block, self.secret)

    def response(self) -> dict:
        """The helper protocol's answer for this credential."""
        return credential_response(
            self.record,
            self.auth_type,
            self.provider.env,
            self.provider.api_key_block,
            oauth_cfg=self.provider.oauth_block,
        )


@attrs.frozen
class ConnectionSummary:
    provider: str
    connection: str
    status: str
    expires_at: int | None
    auth_type: str | None = None
    scopes: list[str] = attrs.field(factory=list)


@attrs.frozen
class EraseResult:
    existed: bool
    revoked: bool = False
    revoke_error: str | None = None


class CredentialService:
    def __init__(
        self,
        home: str | None = None,
        vault: Vault | None = None,
        warn: Callable[[str], None] | None = None,
    ):
        self.vault = vault or Vault(home)
        self.home = self.vault.home
        self._registry = None
        # The service prints nothing: what it has to say is kept here and handed to
        # `warn`, and the front end decides where it goes (never a `run` child's terminal
        # unless the front end says so).
        self.warnings: list[str] = []
        self._on_warning = warn

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._on_warning is not None:
            self._on_warning(message)

    @property
    def registry(self):
        if self._registry is None:
            self._registry = load_registry(self.home)
        return self._registry

    def provider(self, name: str, params: dict | None = None) -> Provider:
        return fill_provider(self.registry.get(name), params)

    # -- reading ------------------------------------------------------------------------
    def _read(self, provider: str, connection: str) -> dict | None:
        return self.vault.get(CONNECTIONS, slot(provider, connection))

    def _require(self, provider: str, connection: str) -> dict:
        record = self._read(provider, connection)
        if record is None:
            raise NotFound(
                f"no connection '{connection}' for {provider}: run `authsome login {provider}"
                + ("" if connection == "default" else f" --connection {connection}")
                + "`"
            )
        return record

    def record(self, provider: str, connection: str = "default") -> dict:
        """The stored record as it is (no refresh). For `authsome get` and doctor."""
        self.registry.get(provider)
        return self._require(provider, check_connection_name(connection))

    def get(
        self,
        provider: str,
        connection: str = "default",
        min_ttl: float = 60,
        force_refresh: bool = False,
    ) -> Credential:
        """A credential valid for at least `min_ttl` seconds, refreshing if it must."""
        check_connection_name(connection)
        definition = self.registry.get(provider)
        record = self._require(provider, connection)
        if record.get("status") == "revoked":
            raise self._reauth(provider, connection, "was revoked")
        if not force_refresh and usable(record, min_ttl):
            audit.record("read", provider=provider, connection=connection)
            return Credential(fill_provider(definition, record.get("params")), record)
        if definition.auth_type == "api_key":
            if secret_of(record) and record.get("status", "connected") == "connected":
                return Credential(fill_provider(definition, record.get("params")), record)
            raise self._reauth(provider, connection, "has no usable API key")
        record = self._refresh(definition, record, min_ttl, force_refresh)
        audit.record("read", provider=provider, connection=connection)
        return Credential(fill_provider(definition, record.get("params")), record)

    def _reauth(self, provider: str, connection: str, why: str) -> ReauthRequired:
        extra = "" if connection == "default" else f" --connection {connection}"
        return ReauthRequired(
            f"{provider} ({connection}) {why}: log in again with `authsome login {provider}{extra}`"
        )

    def _refresh(self, definition: Provider, seen: dict, min_ttl: float, forced: bool) -> dict:
        provider, connection = seen["provider"], seen["connection"]
        with self.vault.lock(CONNECTIONS, slot(provider, connection)):
            record = self._require(provider, connection)
            # Another process may have refreshed while we waited for the lock: use its token.
            changed = record.get("access_token") != seen.get("access_token")
            if usable(record, min_ttl) and (changed or not forced):
                return record
            if record.get("status") == "revoked":
                raise self._reauth(provider, connection, "was revoked")
            if not record.get("refresh_token"):
                if usable(record, 0) and not forced:
                    # Still valid, only shorter than asked: better than failing the caller.
                    self._warn(
                        f"{provider} ({connection}) expires in "
                        f"{int(record['expires_at'] - time.time())}s and has no refresh token"
                    )
                    return record
                self._mark(record, "expired")
                raise self._reauth(provider, connection, "has expired and has no refresh token")
            return self._do_refresh(definition, record)

    def _do_refresh(self, definition: Provider, record: dict) -> dict:
        provider, connection = record["provider"], record["connection"]
        filled = fill_provider(definition, record.get("params"))
        try:
            from authsome.oauth import refresh as oauth_refresh
        except ImportError:  # the OAuth engine is not installed in this build
            raise self._reauth(provider, connection, "cannot be refreshed here")
        try:
            tokens = oauth_refresh.refresh(filled, self.client(provider), record["refresh_token"])
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "invalid_token", "unauthorized_client"):
                self._mark(record, "expired")
                audit.record(
                    "refresh_failed", provider=provider, connection=connection, error=exc.error
                )
                raise self._reauth(provider, connection, f"could not be refreshed ({exc.error})")
            return self._keep_old(record, f"refresh refused: {exc}")
        except NetworkError as exc:  # keep the old token while it lasts
            return self._keep_old(record, str(exc))
        updated = self._apply_tokens(record, tokens)
        # Compare before writing: if our lock was lost (a shared vault's session died) and
        # another process stored a newer refresh, do not clobber its rotated token.
        current = self._read(provider, connection)
        if current is not None and current.get("refresh_token") != record.get("refresh_token"):
            audit.record("refresh_race", provider=provider, connection=connection)
            return current
        self.vault.put(CONNECTIONS, slot(provider, connection), updated)
        audit.record("refresh", provider=provider, connection=connection)
        return updated

    def _keep_old(self, record: dict, why: str) -> dict:
        provider, connection = record["provider"], record["connection"]
        if usable(record, 0) and not record.get("rejected"):
            self._warn(f"{provider} ({connection}): {why}; using the current token")
            return record
        # Expired and the refresh failed: the credential is unusable now (exit 5,
        # reauth_required), though the refresh token may work once the provider answers.
        extra = "" if connection == "default" else f" --connection {connection}"
        raise ReauthRequired(
            f"{provider} ({connection}): {why}, and the current token has expired; try again "
            f"when the provider answers, or log in again with `authsome login {provider}{extra}`"
        )

    @staticmethod
    def _apply_tokens(record: dict, tokens: TokenSet) -> dict:
        updated = dict(record)
        updated.update(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or record.get("refresh_token"),
            expires_at=tokens.expires_at,
            token_type=tokens.token_type or "Bearer",
            scopes=tokens.scopes or record.get("scopes") or [],
            status="connected",
            rejected=False,
            updated_at=int(time.time()),
        )
        updated["extra"] = {**(record.get("extra") or {}), **(tokens.extra or {})}
        return updated

    def _mark(self, record: dict, status: str) -> None:
        self.vault.put(
            CONNECTIONS,
            slot(record["provider"], record["connection"]),
            {**record, "status": status, "updated_at": int(time.time())},
        )

    # -- writing ------------------------------------------------------------------------
    def check_vault_opens(self) -> None:
        """Raise VaultUnavailable, as a write would, unless the vault opens: its data key
        unwraps, or a new vault is created (its header written). For a login, before the
        flow: a key that does not open the vault must not cost the user a sign-in whose
        token is then dropped. The data key stays in this process for the write."""
        self.vault.open_for_writing()

    def store_token(
        self,
        provider: str,
        connection: str,
        tokens: TokenSet,
        params: dict | None = None,
        event: str = "store",
    ) -> None:
        definition = self.registry.get(provider)
        if definition.auth_type != "oauth2":
            raise UsageError(f"{provider} takes an API key, not an OAuth token")
        check_connection_name(connection)
        problem = secret_problem(tokens.access_token)
        if problem:
            raise UsageError(f"the access token {problem}")
        record = new_record(provider, connection, "oauth2", params=dict(params or {}))
        record = self._apply_tokens(record, tokens)
        with self.vault.lock(CONNECTIONS, slot(provider, connection)):
            self.vault.put(CONNECTIONS, slot(provider, connection), record)
        audit.record(event, provider=provider, connection=connection)

    def store_api_key(
        self,
        provider: str,
        connection: str,
        key: str,
        event: str = "store",
        params: dict | None = None,
        basic_user: str | None = None,
        raw_key: bool = False,
    ) -> None:
        """`raw_key`: the key as the provider issued it; for a Basic definition it is then
        stored as base64(user:key) (else `key` is taken as already that, as env vars hold)."""
        definition = self.registry.get(provider)
        if definition.auth_type != "api_key":
            raise UsageError(f"{provider} uses OAuth2: log in with `authsome login {provider}`")
        check_connection_name(connection)
        from authsome.apikeys import basic_credential, check_api_key

        if raw_key and definition.api_key and definition.api_key.basic:
            key = basic_credential(definition, key, basic_user)
        else:
            key = check_api_key(definition, key)
        record = new_record(provider, connection, "api_key", api_key=key, params=dict(params or {}))
        with self.vault.lock(CONNECTIONS, slot(provider, connection)):
            self.vault.put(CONNECTIONS, slot(provider, connection), record)
        audit.record(event, provider=provider, connection=connection)

    def note_step_up(self, provider: str, connection: str, scopes: list[str]) -> None:
        """Keep a server's 403 insufficient_scope with the connection until the next
        login replaces the record; `authsome-helper get` then answers reauth_required."""
        with self.vault.lock(CONNECTIONS, slot(provider, connection)):
            record = self._read(provider, connection)
            if record is None:
                return
            record["step_up"] = {"scopes": list(scopes), "at": int(time.time())}
            self.vault.put(CONNECTIONS, slot(provider, connection), record)
        audit.record("step_up", provider=provider, connection=connection, scopes=list(scopes))

    def mark_rejected(self, provider: str, connection: str = "default") -> None:
        """A tool reported the token rejected: the next get refreshes first."""
        with self.vault.lock(CONNECTIONS, slot(provider, connection)):
            record = self._read(provider, connection)
            if record is not None:
                self.vault.put(
                    CONNECTIONS, slot(provider, connection), {**record, "rejected": True}
                )
        audit.record("rejected", provider=provider, connection=connection)

    def erase(self, provider: str, connection: str = "default", revoke: bool = True) -> EraseResult:
        check_connection_name(connection)
        definition = self.registry.get(provider)
        with self.vault.lock(CONNECTIONS, slot(provider, connection)):
            record = self._read(provider, connection)
            if record is None:
                raise NotFound(f"no connection '{connection}' for {provider}")
            revoked, error = False, None
            filled = fill_provider(definition, record.get("params"))
            if revoke and filled.oauth is not None:
                revoked, error = self._revoke(filled, record)
            self.vault.delete(CONNECTIONS, slot(provider, connection))
        audit.record("erase", provider=provider, connection=connection, revoked=revoked)
        return EraseResult(existed=True, revoked=revoked, revoke_error=error)

    def _revoke(self, provider: Provider, record: dict) -> tuple[bool, str | None]:
        try:
            from authsome.oauth import revoke as oauth_revoke
        except ImportError:
            return False, "revocation is not available in this build"
        client = self.client(provider.name)
        if not oauth_revoke.can_revoke(provider, client):
            return False, None
        try:
            for token, hint in (
                (record.get("refresh_token"), "refresh_token"),
                (record.get("access_token"), "access_token"),
            ):
                if token:
                    oauth_revoke.revoke(provider, client, token, hint)
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}" if isinstance(
                exc, AuthsomeError
            ) else type(exc).__name__
        return True, None

    def list(self) -> list[ConnectionSummary]:
        """Every readable connection; a record that does not open (a junk row written into
        a shared vault) is skipped and named in `self.unreadable`, not fatal to the rest."""
        from authsome.vault.vault import RecordUnreadable

        out = []
        self.unreadable: list[str] = []
        for name in self.vault.names(CONNECTIONS):
            try:
                provider, connection = parse_slot(name)
                record = self.vault.get(CONNECTIONS, name)
                if record is not None and not isinstance(record, dict):
                    raise RecordUnreadable(f"the record {CONNECTIONS}/{name} is not an object")
            except (RecordUnreadable, ValueError) as exc:
                self.unreadable.append(str(exc))
                continue
            if record is None:
                continue
            out.append(
                ConnectionSummary(
                    provider=provider,
                    connection=connection,
                    status=status_of(record),
                    expires_at=record.get("expires_at"),
                    auth_type=record.get("auth_type"),
                    scopes=list(record.get("scopes") or []),
                )
            )
        return out

    # -- OAuth clients --------------------------------------------------------------------
    def client(self, provider: str) -> ClientCredentials | None:
        data = self.vault.get(CLIENTS, provider)
        if data is None:
            return None
        return ClientCredentials(
            client_id=data["client_id"],
            client_secret=data.get("client_secret"),
            registration=data.get("registration") or {},
        )

    def store_client(self, provider: str, client: ClientCredentials) -> None:
        self.registry.get(provider)
        self.vault.put(CLIENTS, provider, attrs.asdict(client))
        audit.record("store_client", provider=provider)

    def forget_client(self, provider: str) -> bool:
        return self.vault.delete(CLIENTS, provider)
