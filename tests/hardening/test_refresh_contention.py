"""Refresh under contention: many processes, three front ends, one connection whose
access token lives 2 seconds, against a server that rotates refresh tokens and burns
the whole family when a rotated one comes back (Okta/Auth0 style).

CI: 20 concurrent process loops for 15 s; long: 50 for 60 s. Every process must succeed,
none may receive a token the server already considers expired, and no family may be
revoked (a lost single-flight would replay a rotated refresh token).
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import threading
import time

import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials
from hardening.fuzzkit import FIGURES, size
from support.authserver import AuthServer
from support.cli import run_tool, tool

NAME = "contend"
GIT_HOST = "git.contend.test"
SECRET = "contend-client-secret-31"
EXPORT = re.compile(r"export CONTEND_ACCESS_TOKEN='?([A-Za-z0-9._~+/=-]+)'?")


def setup_connection(home, srv: AuthServer, tmp_path) -> str:
    definition = srv.provider_definition(NAME, api_url=["api.contend.test"])
    definition["git_hosts"] = [{"host": GIT_HOST, "username": "x-access-token"}]
    folder = home / "providers"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / f"{NAME}.json").write_text(json.dumps(definition))
    (folder / f"{NAME}.json").chmod(0o600)
    srv.register_client("hc", SECRET, redirect_uris=["http://127.0.0.1/cb"])
    CredentialService().store_client(NAME, ClientCredentials("hc", SECRET))
    minted = srv.issue_tokens("hc", "read")
    body = {"access_token": minted["access_token"], "refresh_token": minted["refresh_token"]}
    res = run_tool("authsome-helper", "store", NAME, input=json.dumps({**body, "expires_in": 2}))
    assert res.returncode == 0, res.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / ".authsome.toml").write_text(f'[env]\nCONTEND_ACCESS_TOKEN = "{NAME}"\n')
    res = run_tool("authsome", "allow", str(project))
    assert res.returncode == 0, res.stderr
    return str(project / ".authsome.toml")


def front_ends(project_file: str) -> dict[str, tuple[list[str], bytes]]:
    return {
        "helper": ([tool("authsome-helper"), "get", NAME], b""),
        "git": (
            [tool("git-credential-authsome"), "get"],
            f"protocol=https\nhost={GIT_HOST}\n\n".encode(),
        ),
        "shell": ([tool("authsome"), "_hook-env", "bash", project_file, "", "", ""], b""),
    }


def token_of(kind: str, out: str) -> str | None:
    if kind == "helper":
        return json.loads(out).get("access_token")
    if kind == "git":
        fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return fields.get("password")
    m = EXPORT.search(out)
    return m.group(1) if m else None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_refresh_under_contention(home, tmp_path):
    workers, seconds = size(20, 50), size(15, 60)
    with AuthServer(access_ttl=2, rotate_refresh=True, reuse_revokes_family=True) as srv:
        project_file = setup_connection(home, srv, tmp_path)
        kinds = front_ends(project_file)
        order = list(kinds)
        results: list[tuple[str, int, str | None, float, float | None, str]] = []
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def loop(i: int) -> None:
            n = 0
            while time.monotonic() < stop:
                kind = order[(i + n) % len(order)]
                n += 1
                argv, stdin = kinds[kind]
                res = subprocess.run(argv, input=stdin, capture_output=True, timeout=60)
                received = time.time()
                out = res.stdout.decode("utf-8", "replace")
                token = token_of(kind, out) if res.returncode == 0 else None
                with srv._backend.lock:  # the server's own view of that token
                    rec = srv._backend.store.by_access.get(token) if token else None
                    expires = rec.expires_at if rec is not None else None
                with lock:
                    results.append(
                        (kind, res.returncode, token, received, expires, res.stderr.decode()[-300:])
                    )

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        by_kind = collections.Counter(r[0] for r in results)
        failures = [r for r in results if r[1] != 0 or r[2] is None]
        unknown = [r for r in results if r[2] is not None and r[4] is None]
        expired = [r for r in results if r[4] is not None and r[4] <= r[3]]
        FIGURES["contention"] = {
            "processes": len(results),
            "concurrent_loops": workers,
            "seconds": seconds,
            "by_front_end": dict(by_kind),
            "refreshes": srv.counts["token:refresh_token"],
            "distinct_tokens": len({r[2] for r in results if r[2]}),
            "revoked_families": srv.revoked_families(),
            "failures": len(failures),
            "expired_on_receipt": len(expired),
        }
        print(json.dumps(FIGURES["contention"], indent=2))
        assert failures == [], [(r[0], r[1], r[5]) for r in failures[:5]]
        assert unknown == [], "a token the server never issued"
        assert expired == [], [(r[0], r[4] - r[3]) for r in expired[:5]]
        assert srv.revoked_families() == 0
        assert srv.counts["token:refresh_token"] >= seconds // 3  # it did refresh, often
        assert all(by_kind[k] > 0 for k in kinds)
