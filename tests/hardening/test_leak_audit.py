"""Leak audit: every command and front end with known secrets, then a scan of all that
is observable for them, in plain, base64 (any alignment, standard and URL-safe) and
URL-encoded forms: stdout and stderr (except where printing the secret is the command's
job: `get --show-secret`, `export`, the helpers' answers, the hook's exports), the audit
log, every file under the home (the vault's ciphertext too) and the temporary
directories, the child's environment and command line under `authsome run`, and
/proc/*/cmdline of every process, sampled all along.

Only what this run made is scanned: the secrets are drawn at run time (so no file that
merely holds this test's source can match), the commands get a private TMPDIR, and of
the system temp directory only the entries that appeared during the run are read.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as random_secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from hardening.fuzzkit import FIGURES
from support.authserver import AuthServer
from support.browser import LOG_ENV, browser_command
from support.cli import tool
from support.fixtures import free_port

# Drawn per run: a constant would also be found in any copy of this file.
API_KEY = "sk-ant-" + random_secrets.token_hex(16)
CLIENT_SECRET = "leak-client-" + random_secrets.token_hex(12)
GIT_PASSWORD = "git-stored-" + random_secrets.token_hex(12)
DOCKER_SECRET = "docker-stored-" + random_secrets.token_hex(12)
HELPER_TOKEN = "helper-stored-" + random_secrets.token_hex(12)
# New entries of the system temp dir that appear while the run goes on may also be other
# programs' (other test runs on this machine): read their small files only.
MAX_SCANNED_FILE = 1 << 20


def forms(secret: str) -> set[str]:
    """The secret as it could appear: plain, URL-encoded, base64 at any byte alignment."""
    raw = secret.encode()
    out = {secret, quote(secret, safe=""), quote(secret)}
    for offset in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"\0" * offset + raw).decode()
            core = text[4 if offset else 0 : -4]  # the characters only this secret decides
            if len(core) >= 12:
                out.add(core)
    return out


class CmdlineSampler(threading.Thread):
    """Reads every /proc/*/cmdline every 20 ms while the audit runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[bytes] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            self.seen.add(f.read())
                    except OSError:
                        pass
            time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.timeout(300)
def entries(directory: Path) -> set[str]:
    try:
        return set(os.listdir(directory))
    except OSError:
        return set()


def files_under(path: Path) -> list[Path]:
    try:
        if path.is_file():
            return [path]
        return [p for p in path.rglob("*") if p.is_file()]
    except OSError:
        return []


def test_no_secret_leaks_anywhere(home, tmp_path, monkeypatch, request):
    system_tmp = Path(tempfile.gettempdir())  # before TMPDIR changes below
    temp_before = entries(system_tmp)
    # Another checkout of the project changing in /tmp meanwhile is not a leak of ours.
    checkout = Path(tempfile.mkdtemp(prefix="authsome-other-checkout-", dir=system_tmp))
    request.addfinalizer(lambda: shutil.rmtree(checkout, ignore_errors=True))
    (checkout / "test_leak_audit.py").write_bytes(Path(__file__).read_bytes())
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))  # the commands' temp files land here
    port = free_port()
    monkeypatch.setenv("AUTHSOME_CALLBACK_PORT", str(port))
    monkeypatch.setenv("BROWSER", browser_command())
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "browser.log"))  # the stand-in's, not ours
    work = tmp_path / "work"
    work.mkdir()
    observed: list[tuple[str, str]] = []  # (what, text) that must hold no secret
    intended: list[str] = []  # outputs whose job is the secret (not scanned)
    sampler = CmdlineSampler()
    sampler.start()

    def run(*argv: str, stdin: str = "", secret_out: bool = False, ok: bool = True):
        res = subprocess.run(
            [tool(argv[0]), *argv[1:]], input=stdin, capture_output=True, text=True, timeout=120
        )
        label = " ".join(argv)
        if ok:
            assert res.returncode == 0, (label, res.stderr)
        observed.append((f"stderr of {label}", res.stderr))
        (intended.append if secret_out else observed.append)((f"stdout of {label}", res.stdout))
        return res

    with AuthServer(rotate_refresh=True) as srv:
        definition = srv.provider_definition("leak", api_url=["api.leak.test"])
        pdir = home / "providers"
        pdir.mkdir(mode=0o700, parents=True)
        (pdir / "leak.json").write_text(json.dumps(definition))
        redirect = f"http://127.0.0.1:{port}/auth/callback/oauth"
        srv.register_client("lc", CLIENT_SECRET, redirect_uris=[redirect])

        # log in: an API key on stdin; OAuth through the browser with a confidential client
        run("authsome", "login", "anthropic", "--api-key-stdin", stdin=API_KEY + "\n")
        run(
            "authsome",
            "login",
            "leak",
            "--client-id",
            "lc",
            "--client-secret-stdin",
            stdin=CLIENT_SECRET,
        )
        for name in ("anthropic", "leak"):
            run("authsome", "get", name)
            run("authsome", "get", name, "--json")
            run("authsome", "get", name, "--show-secret", secret_out=True)
            run("authsome", "export", name, "--format", "env", secret_out=True)
            run("authsome-helper", "get", name, secret_out=True)
            run("authsome-helper", "refresh", name, secret_out=True, ok=name == "leak")
        run("authsome", "list")
        run("authsome", "list", "--json")
        run("authsome", "inspect", "leak")
        run("authsome", "log", "-n", "100")
        run("authsome", "doctor", ok=False)
        run("authsome-helper", "list")
        run(
            "authsome-helper",
            "store",
            "hubspot",
            stdin=json.dumps({"access_token": HELPER_TOKEN, "expires_in": 3600}),
        )
        run("authsome-helper", "erase", "hubspot", "--connection", "default")
        # git: a provider host (token answer) and the storage helper for another host
        run(
            "git-credential-authsome",
            "store",
            stdin=f"protocol=https\nhost=git.other.test\nusername=me\npassword={GIT_PASSWORD}\n\n",
        )
        run(
            "git-credential-authsome",
            "get",
            stdin="protocol=https\nhost=git.other.test\n\n",
            secret_out=True,
        )
        run(
            "git-credential-authsome",
            "erase",
            stdin="protocol=https\nhost=git.other.test\nusername=me\n\n",
        )
        # docker
        store = {"ServerURL": "registry.leak.test", "Username": "me", "Secret": DOCKER_SECRET}
        run("docker-credential-authsome", "store", stdin=json.dumps(store))
        run("docker-credential-authsome", "get", stdin="registry.leak.test", secret_out=True)
        run("docker-credential-authsome", "list")
        run("docker-credential-authsome", "erase", stdin="registry.leak.test")
        # the shell worker, for an approved project file
        (work / ".authsome.toml").write_text(
            '[env]\nLEAK_TOKEN = "leak"\nANTHROPIC_API_KEY = "anthropic"\n'
        )
        run("authsome", "allow", str(work))
        run(
            "authsome",
            "_hook-env",
            "bash",
            str(work / ".authsome.toml"),
            "",
            "",
            "",
            secret_out=True,
        )
        # authsome run: what the child sees (env and argv), while /proc is sampled
        res = run(
            "authsome",
            "run",
            "--",
            "sh",
            "-c",
            "env; echo; tr '\\0' ' ' </proc/self/cmdline; sleep 0.3",
        )
        assert "LEAK_ACCESS_TOKEN=authsome-proxy-managed" in res.stdout
        assert "ANTHROPIC_API_KEY=authsome-proxy-managed" in res.stdout
        assert "AUTHSOME_MASTER_KEY" not in res.stdout
        # log out (revokes at the server), then the audit log once more
        run("authsome", "logout", "leak")
        run("authsome", "logout", "anthropic")
        run("authsome", "log", "-n", "200")

        oauth_secrets = {CLIENT_SECRET}
        for entry in srv.requests:
            for key in ("code", "refresh_token", "code_verifier", "token"):
                if (entry.get("form") or {}).get(key):
                    oauth_secrets.add(entry["form"][key])
        with srv._backend.lock:
            for rec in srv._backend.store.by_access.values():
                oauth_secrets.add(rec.access_token)
                if rec.refresh_token:
                    oauth_secrets.add(rec.refresh_token)
    sampler.stop.set()
    sampler.join()

    secrets = {API_KEY, GIT_PASSWORD, DOCKER_SECRET, HELPER_TOKEN} | {
        s for s in oauth_secrets if len(s) >= 16
    }
    assert len(secrets) >= 8  # api key, client secret, access and refresh tokens, code, ...
    # files: the home (vault ciphertext included), the test's temp dir with the commands'
    # TMPDIR (but the browser stand-in's own log of the URLs it visited), and the entries
    # of the system temp dir that appeared during the run
    files = [p for p in home.rglob("*") if p.is_file()]
    files += [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and p.name != "browser.log" and home not in p.parents
    ]
    for name in sorted(entries(system_tmp) - temp_before):
        if name.startswith("pytest-of-"):
            continue  # pytest's own temp trees (this test's is scanned above)
        for p in files_under(system_tmp / name):
            try:
                if p.stat().st_size <= MAX_SCANNED_FILE:
                    files.append(p)
            except OSError:
                pass
    for p in files:
        if p.name == "browser.log":
            continue
        try:
            observed.append((f"file {p}", p.read_bytes().decode("latin-1")))
        except OSError:
            pass
    assert checkout / "test_leak_audit.py" in files  # the scan did read what appeared
    observed += [("a process command line", c.decode("latin-1")) for c in sampler.seen]
    leaks = [
        (what, secret[:6] + "...")
        for secret in secrets
        for form in forms(secret)
        for what, text in observed
        if form in text
    ]
    FIGURES["leak_audit"] = {
        "secrets": len(secrets),
        "forms_per_secret": len(forms(API_KEY)),
        "texts_scanned": len(observed),
        "files_scanned": len(files),
        "command_lines_seen": len(sampler.seen),
        "leaks": len(leaks),
    }
    assert leaks == [], leaks[:10]
    # the outputs whose job is the secret did carry it (the audit is not vacuous)
    assert any(API_KEY in text for _, text in intended)
