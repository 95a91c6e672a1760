"""Health checks for `authsome doctor`: each says what is wrong and how to fix it."""

from __future__ import annotations

import os
import stat
import time

import attrs

from authsome import paths

OK, WARN, FAIL = "ok", "warn", "fail"


@attrs.frozen
class Check:
    name: str
    level: str
    message: str
    fix: str | None = None


def check_home(home: str) -> list[Check]:
    if not os.path.exists(home):
        return [Check("home", OK, f"{home} does not exist yet (created on first login)")]
    if not os.path.isdir(home):
        return [
            Check("home", FAIL, f"{home} is not a directory", f"move it away: mv {home} {home}.old")
        ]
    out = []
    mode = stat.S_IMODE(os.stat(home).st_mode)
    if mode != paths.DIR_MODE:
        out.append(Check("home", FAIL, f"{home} has mode {mode:o}, not 700", f"chmod 700 {home}"))
    else:
        out.append(Check("home", OK, f"{home} (700)"))
    loose = []
    definitions = paths.providers_dir(home)
    for root, dirs, files in os.walk(home):
        for d in dirs:
            p = os.path.join(root, d)
            if stat.S_IMODE(os.lstat(p).st_mode) & 0o077:
                loose.append((p, "700"))
        for f in files:
            p = os.path.join(root, f)
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            if root == definitions and not mode & 0o022:
                # A definition holds no secret: readable by others (the umask's 644, as
                # `authsome inspect NAME > NAME.json` writes it) is only worth a note.
                if mode & 0o044:
                    out.append(
                        Check("permissions", WARN, f"{p} is readable by others", f"chmod 600 {p}")
                    )
                continue
            if mode & 0o077:
                loose.append((p, "600"))
    for p, want in loose[:20]:
        what = "writable" if stat.S_IMODE(os.lstat(p).st_mode) & 0o022 else "readable"
        out.append(Check("permissions", FAIL, f"{p} is {what} by others", f"chmod {want} {p}"))
    if not loose and not any(c.level == WARN for c in out):
        out.append(Check("permissions", OK, "every file 600, every directory 700"))
    return out


def check_key(home: str) -> list[Check]:
    from authsome.vault import keys

    out = []
    ok, backend = keys.keyring_works()
    env_set = bool(os.environ.get("AUTHSOME_MASTER_KEY") or os.environ.get("AUTHSOME_PASSPHRASE"))
    key_file = os.path.join(home, keys.KEY_FILE)
    if ok:
        out.append(Check("keyring", OK, f"backend {backend}"))
    elif env_set:
        out.append(
            Check(
                "keyring", OK, f"no keyring backend ({backend}); the key comes from the environment"
            )
        )
    else:
        out.append(
            Check(
                "keyring",
                WARN,
                f"no working keyring backend ({backend}): the vault key would be kept in "
                f"{key_file}, protected only by file permissions",
                "install and unlock a Secret Service (gnome-keyring, KeePassXC), "
                "or set AUTHSOME_MASTER_KEY / AUTHSOME_PASSPHRASE",
            )
        )
    if os.path.exists(key_file):
        out.append(
            Check(
                "key file",
                WARN,
                f"the vault key is kept in {key_file}, protected only by file permissions",
                "use an OS keyring or AUTHSOME_MASTER_KEY / AUTHSOME_PASSPHRASE",
            )
        )
    return out


def check_vault(home: str) -> tuple[list[Check], list]:
    from authsome.credentials import CredentialService
    from authsome.errors import AuthsomeError

    service = CredentialService(home)
    try:
        service.vault.data_key()
        summaries = service.list()
    except AuthsomeError as exc:
        return [Check("vault", FAIL, str(exc), "check the key source (see above)")], []
    if service.vault.backend.read("meta", "header") is None:
        return [Check("vault", OK, "no vault yet (made at the first login or store)")], []
    out = [
        Check(
            "vault",
            OK,
            f"opens with the key from {service.vault.source.name} ({len(summaries)} connections)",
        )
    ]
    from authsome.livestatus import current_status
    from authsome.records import relative

    for s in summaries:
        status, expires_at, why = s.status, s.expires_at, None
        if status == "connected" and expires_at is not None and expires_at <= time.time():
            # Past expiry is never `connected`: the refresh says whether it still works.
            try:
                status, record, why = current_status(
                    service, service.record(s.provider, s.connection)
                )
                expires_at = record.get("expires_at")
            except AuthsomeError as exc:
                status, why = "expired", str(exc)
        level = OK if status == "connected" else WARN
        fix = (
            None
            if level == OK
            else f"authsome login {s.provider} --connection {s.connection} --force"
        )
        message = f"{status}, expires {relative(expires_at)}"
        out.append(
            Check(
                f"{s.provider}:{s.connection}",
                level,
                f"{message} ({why})" if why else message,
                fix,
            )
        )
    return out, summaries


def check_shared_tls(url: str) -> Check:
    """The TLS mode the shared vault's connections use, and a warning for a weak one."""
    import os

    from authsome.vault.pgurl import WEAK_MODES, is_local, parse, tls_mode

    mode, why = tls_mode(url, dict(os.environ))
    if why == "local":
        return Check("shared vault TLS", OK, "loopback or unix socket: no TLS needed")
    if why == "explicit" and mode in WEAK_MODES and not is_local(parse(url)):
        return Check(
            "shared vault TLS",
            WARN,
            f"sslmode={mode} is set for a host on the network: the server's certificate is "
            "not checked" + (" and the connection may be plaintext" if mode != "require" else ""),
            "drop sslmode (verify-full is the default) and set sslrootcert=/path/ca.pem "
            "or sslrootcert=system",
        )
    return Check("shared vault TLS", OK, f"sslmode={mode} ({why})")


def check_audit_chain(shared) -> Check:
    from authsome.cli.cmd_log import audit_summary
    from authsome.errors import AuthsomeError

    try:
        state = shared.verify_audit()
    except AuthsomeError as exc:
        return Check("audit chain", WARN, f"not checked: {exc}", None)
    if state["broken_at"] is not None:
        return Check(
            "audit chain",
            FAIL,
            f"broken at entry {state['broken_at']}: entries were deleted or edited",
            "authsome log --verify; give clients the role from `authsome vault init --client-role`",
        )
    return Check("audit chain", OK, audit_summary(state).removeprefix("audit chain "))


def check_shared_vault(home: str) -> list[Check]:
    """With a shared vault: reachable, schema current, and this machine's key opens it."""
    from authsome.errors import AuthsomeError
    from authsome.vault import backends

    try:
        shared = backends.shared_backend(home)
    except AuthsomeError as exc:
        return [Check("shared vault", FAIL, str(exc), "fix AUTHSOME_VAULT_URL or the config")]
    if shared is None:
        return []
    tls = [check_shared_tls(shared.url)]
    try:
        version = shared.schema_version()
    except AuthsomeError as exc:
        return [
            *tls,
            Check("shared vault", FAIL, str(exc), "check the URL, the network, ~/.pgpass"),
        ]
    if version == 0:
        message = f"{shared.where} has no authsome schema"
        return [*tls, Check("shared vault", FAIL, message, "authsome vault init")]
    from authsome.vault.vault import Vault

    vault = Vault(home, backend=shared)
    try:
        opened = vault.data_key() is not None
    except AuthsomeError as exc:
        return [
            *tls,
            Check(
                "shared vault",
                FAIL,
                f"this machine's key cannot open the shared vault at {shared.where}: {exc}",
                "give this machine the team's key (AUTHSOME_MASTER_KEY or AUTHSOME_PASSPHRASE)",
            ),
        ]
    state = f"opens with the key from {vault.source.name}" if opened else "no key header yet"
    tls.append(check_audit_chain(shared))
    return [*tls, Check("shared vault", OK, f"{shared.where} (schema {version}), {state}")]


def check_providers(home: str) -> list[Check]:
    from authsome.providers import load_registry

    registry = load_registry(home)
    loaded = registry.all()
    out = [Check("providers", OK, f"{len(loaded)} definitions load")]
    for error in registry.errors:
        out.append(Check("providers", FAIL, str(error), f"fix or remove {error.path}"))
    warned = registry.warnings()
    if warned:
        lines = [line for path in sorted(warned) for line in warned[path]]
        out.append(
            Check(
                "providers",
                WARN,
                f"{len(warned)} definition file(s) with warnings: " + "; ".join(lines),
                "fix the key's name or remove it",
            )
        )
    return out


def check_mcp_servers(home: str, summaries: list) -> list[Check]:
    """Each MCP server with a connection: its metadata still resolves (RFC 9728, then
    RFC 8414 / OIDC, with the same checks as a login), from the same authorization server."""
    from authsome.errors import AuthsomeError
    from authsome.providers import load_registry

    registry = load_registry(home)
    out = []
    for name in sorted({s.provider for s in summaries}):
        try:
            provider = registry.get(name)
        except AuthsomeError:
            continue  # reported by check_providers
        if provider.mcp is not None:
            out.append(_mcp_check(name, provider.mcp.url, provider.mcp.issuer))
    return out


def _mcp_check(name: str, url: str, issuer: str | None) -> Check:
    from authsome.errors import AuthsomeError
    from authsome.oauth.http import make_client
    from authsome.oauth.mcp_login import discover

    try:
        with make_client(timeout=10.0) as http:
            found = discover(url, http)
    except AuthsomeError as exc:
        return Check(
            f"mcp {name}", FAIL, f"{url}: {exc}", f"check the server, then `authsome login {name}`"
        )
    if issuer and found.server.issuer != issuer:
        return Check(
            f"mcp {name}",
            WARN,
            f"its authorization server moved from {issuer} to {found.server.issuer}",
            f"authsome login {name} --force",
        )
    return Check(f"mcp {name}", OK, f"{url}: metadata resolves ({found.server.issuer})")


def check_ca() -> list[Check]:
    """`authsome run` makes a name-constrained CA and a leaf per host: try both once."""
    try:
        from authsome.proxy.ca import CertAuthority
    except ImportError:
        return [Check("proxy CA", WARN, "the proxy is not installed in this build", None)]
    try:
        CertAuthority(["api.example.com"]).context_for("api.example.com")
    except Exception as exc:
        return [
            Check(
                "proxy CA",
                FAIL,
                f"cannot make the proxy's CA: {type(exc).__name__}",
                "reinstall authsome with a working `cryptography` (pip install -U cryptography)",
            )
        ]
    return [Check("proxy CA", OK, "a name-constrained CA and a TLS leaf can be generated")]


def check_sandbox() -> list[Check]:
    """`authsome run --sandbox`: tried for real (bubblewrap, user and network namespaces)."""
    import sys

    if not sys.platform.startswith("linux"):
        return [Check("sandbox", WARN, "run --sandbox is Linux-only for now", None)]
    from authsome.proxy.sandbox import check

    problem = check()
    if problem is not None:
        return [Check("sandbox", WARN, "run --sandbox does not work here", problem)]
    return [Check("sandbox", OK, "run --sandbox works here (bubblewrap, user namespaces)")]


def check_hook() -> list[Check]:
    home = os.path.expanduser("~")
    rcs = [".bashrc", ".zshrc", ".config/fish/config.fish", ".bash_profile"]
    found = []
    for rc in rcs:
        try:
            with open(os.path.join(home, rc), encoding="utf-8", errors="replace") as f:
                if "authsome hook" in f.read():
                    found.append(rc)
        except OSError:
            continue
    if found:
        return [Check("shell hook", OK, f"installed in {', '.join(found)}")]
    return [
        Check(
            "shell hook",
            WARN,
            "not installed in any shell rc file",
            'add eval "$(authsome hook bash)" to ~/.bashrc '
            "(zsh likewise; fish: authsome hook fish | source)",
        )
    ]


def run_checks(home: str | None = None) -> list[Check]:
    home = home or paths.home()
    checks = check_home(home) + check_key(home)
    vault_checks, summaries = check_vault(home)
    checks += check_shared_vault(home)
    checks += vault_checks + check_providers(home) + check_mcp_servers(home, summaries)
    return checks + check_ca() + check_sandbox() + check_hook()
