"""`authsome vault migrate` moves a local vault with several providers and connections; the
front ends then work unchanged on the shared vault from another machine; the database
dump holds no secret in any encoding; the audit trail lands in its table."""

from __future__ import annotations

import base64
import json

import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials
from authsome.vault import backends
from authsome.vault.vault import Vault
from oauth.kit import secrets_seen
from postgres.conftest import new_key
from postgres.machines import Machine

SECRET = "migrate-client-secret-9981"
OPENAI = "sk-" + "Mig8" * 10
ANTHROPIC = "sk-ant-" + "Q2w" * 14
GIT_PASSWORD = "git-storage-pw-5e6f7a8b"
DOCKER_SECRET = "docker-secret-3c4d5e6f"


@pytest.fixture
def laptop(tmp_path, auth_server, monkeypatch) -> Machine:
    """A machine with a local vault: OAuth (two connections, one expired), two API keys,
    an OAuth client, a git storage entry and a docker entry."""
    m = Machine(tmp_path / "laptop", new_key(), None)
    for name, value in m.env.items():
        if name.startswith("AUTHSOME_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUTHSOME_VAULT_URL", raising=False)
    auth_server.write_provider(m.home, "teamapp")
    auth_server.register_client("teamapp", SECRET, redirect_uris=["http://127.0.0.1/cb"])
    CredentialService().store_client("teamapp", ClientCredentials("teamapp", SECRET))
    live = auth_server.issue_tokens("teamapp", "read")
    m.store_token("teamapp", live["access_token"], live["refresh_token"], 3600)
    old = auth_server.issue_tokens("teamapp", "read")
    body = {"access_token": old["access_token"], "refresh_token": old["refresh_token"]}
    res = m.run(
        "authsome-helper",
        "store",
        "teamapp",
        "--connection",
        "work",
        input=json.dumps({**body, "expires_in": -10}),
    )
    assert res.returncode == 0, res.stderr
    for provider, key in (("openai", OPENAI), ("anthropic", ANTHROPIC)):
        res = m.run("authsome-helper", "store", provider, input=json.dumps({"api_key": key}))
        assert res.returncode == 0, res.stderr
    git = f"protocol=https\nhost=git.internal.test\nusername=bob\npassword={GIT_PASSWORD}\n\n"
    assert m.run("git-credential-authsome", "store", input=git).returncode == 0
    docker = {"ServerURL": "registry.internal.test", "Username": "ci", "Secret": DOCKER_SECRET}
    assert m.run("docker-credential-authsome", "store", input=json.dumps(docker)).returncode == 0
    m.live = live  # type: ignore[attr-defined]
    return m


def test_migrate_then_every_front_end_works_on_the_shared_vault(
    laptop, pg, pg_db, auth_server, tmp_path
):
    url = pg.url(pg_db, password=False)  # the password comes from PGPASSWORD, not argv
    laptop.extra["PGPASSWORD"] = pg.password
    init = laptop.run("authsome", "vault", "init", "--url", url)
    assert init.returncode == 0 and init.stderr == "", init.stderr
    res = laptop.run("authsome", "vault", "migrate", "--to", url)
    assert res.returncode == 0, res.stderr
    assert "Copied 7 records" in res.stdout
    for line in (
        "clients        1  teamapp",
        "connections    4  anthropic:default, openai:default, teamapp:default, teamapp:work",
        "docker         1\n",
        "git            1\n",
        "key header   copied: the key from AUTHSOME_MASTER_KEY opens the shared vault",
    ):
        assert line in res.stdout, res.stdout
    # Idempotent: a second run copies nothing and says what it kept.
    again = laptop.run("authsome", "vault", "migrate", "--to", url, "--json")
    report = json.loads(again.stdout)
    assert report["copied"] == {} and len(report["skipped"]["connections"]) == 4

    # A CI runner: a fresh home, the team key, the URL; only the provider file copied.
    runner = Machine(tmp_path / "runner", laptop.key, url, {"PGPASSWORD": pg.password})
    auth_server.write_provider(runner.home, "teamapp")
    helper = runner.run("authsome-helper", "get", "teamapp")
    assert helper.returncode == 0, helper.stderr
    assert json.loads(helper.stdout)["access_token"] == laptop.live["access_token"]
    refreshed = runner.run("authsome-helper", "get", "teamapp", "--connection", "work")
    assert refreshed.returncode == 0, refreshed.stderr
    assert auth_server.counts["token:refresh_token"] == 1
    exported = runner.run("authsome", "export", "openai", "anthropic", "--format", "dotenv")
    assert exported.returncode == 0, exported.stderr
    assert f"OPENAI_API_KEY={OPENAI}" in exported.stdout.replace('"', "").replace("'", "")
    assert ANTHROPIC in exported.stdout
    git = runner.run(
        "git-credential-authsome", "get", input="protocol=https\nhost=git.internal.test\n\n"
    )
    assert git.returncode == 0 and f"password={GIT_PASSWORD}" in git.stdout
    docker = runner.run("docker-credential-authsome", "get", input="registry.internal.test")
    assert docker.returncode == 0 and json.loads(docker.stdout)["Secret"] == DOCKER_SECRET
    listed = runner.run("authsome-helper", "list")
    assert len(json.loads(listed.stdout)["connections"]) == 4
    assert not (runner.home / "vault").exists()  # nothing local on the runner

    # The audit trail is in the database: `authsome log` on the laptop (pointed at the
    # shared vault) shows the runner's reads and the refresh.
    laptop.url = url
    log = laptop.run("authsome", "log", "-n", "50", "--json")
    assert log.returncode == 0, log.stderr
    events = json.loads(log.stdout)
    kinds = [(e["event"], e.get("provider"), e.get("connection")) for e in events]
    assert ("vault_migrate", None, None) in kinds
    assert ("refresh", "teamapp", "work") in kinds
    assert kinds.count(("read", "openai", "default")) == 1
    assert all(e.get("host") for e in events)
    text = laptop.run("authsome", "log", "--provider", "teamapp")
    assert "refresh" in text.stdout and "teamapp:work" in text.stdout
    # filters run in the database: the provider, the time and the count
    only = json.loads(laptop.run("authsome", "log", "--json", "--provider", "openai").stdout)
    assert only and {e["provider"] for e in only} == {"openai"}
    last = json.loads(laptop.run("authsome", "log", "--json", "-n", "2").stdout)
    assert last == events[-2:]
    future = laptop.run("authsome", "log", "--json", "--since", "2999-01-01T00:00:00Z")
    assert json.loads(future.stdout) == []
    recent = json.loads(laptop.run("authsome", "log", "--json", "-n", "0", "--since", "1h").stdout)
    assert recent == []

    # No secret anywhere in the database, in any encoding.
    conn = backends.postgres(pg.url(pg_db)).connection()
    blobs = [bytes(r[0]) for r in conn.execute("SELECT blob FROM authsome.records")]
    audit_rows = json.dumps(conn.execute("SELECT * FROM authsome.audit").fetchall(), default=str)
    dump = pg.dump(pg_db)
    assert "authsome.records" in dump and "\\x" in dump  # the blobs are in it, hex-encoded
    data_key = Vault(str(laptop.home), backend=backends.postgres(pg.url(pg_db))).data_key()
    secrets = secrets_seen(auth_server) | {
        SECRET,
        OPENAI,
        ANTHROPIC,
        GIT_PASSWORD,
        DOCKER_SECRET,
        laptop.key,
        pg.password,
    }
    raw = [s.encode() for s in secrets] + [base64.b64decode(laptop.key), data_key]
    assert len(secrets) >= 10
    for value in raw:
        for form in (value, base64.b64encode(value), value.hex().encode()):
            text_form = form.decode("latin-1")
            assert text_form not in dump, "a secret is in the database dump"
            assert text_form not in audit_rows
            assert not any(form in blob for blob in blobs)


def test_migrate_into_a_vault_that_already_has_a_key(vault_url, home, monkeypatch):
    """Another machine made the shared header first: the records are re-sealed under its
    data key (same team key); a laptop whose key cannot open it copies nothing."""
    from authsome.errors import VaultUnavailable
    from authsome.vault.migrate import migrate

    shared = backends.postgres(vault_url)
    Vault(backend=shared).put("connections", "openai:ci", {"api_key": OPENAI})
    monkeypatch.delenv("AUTHSOME_VAULT_URL")
    local = Vault()  # the file vault: its own data key, wrapped by the same team key
    local.put("connections", "openai:default", {"api_key": OPENAI})
    local.put("clients", "teamapp", {"client_id": "x", "client_secret": SECRET})
    report = migrate(str(home), shared)
    assert report.header == "shared" and report.total == 2
    fresh = Vault(backend=shared)
    assert fresh.get("connections", "openai:default") == {"api_key": OPENAI}
    assert fresh.get("clients", "teamapp")["client_secret"] == SECRET
    assert fresh.get("connections", "openai:ci") == {"api_key": OPENAI}

    monkeypatch.setenv("AUTHSOME_MASTER_KEY", new_key())  # a laptop outside the team
    other = home.parent / "other-home"
    monkeypatch.setenv("AUTHSOME_HOME", str(other))
    Vault().put("connections", "anthropic:default", {"api_key": ANTHROPIC})
    with pytest.raises(VaultUnavailable, match="this machine's key cannot open it"):
        migrate(str(other), shared)
    assert shared.names("connections") == ["openai:ci", "openai:default"]
