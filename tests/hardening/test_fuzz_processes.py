"""Whole processes on random stdin: `authsome-helper`, the git and the docker adapters.

Per SPEC §5: exit codes only from the documented set, stdout exactly one JSON object
and a newline, no traceback, and a request that failed changed nothing in the vault.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hardening.fuzzkit import DEEP_JSON, NASTY_BYTES, size, tally
from support.cli import tool

pytestmark = pytest.mark.timeout(300)

SPEC_EXIT_CODES = set(range(8))
KEY = "sk-ant-fuzz-0123456789abcdef"
# Process fuzzing re-uses one home for all examples (a fixture per example is too slow).
PROC = settings(
    max_examples=size(30, 300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def vault_bytes(home: Path) -> dict[str, bytes]:
    """The encrypted records (empty lock files are not content)."""
    files = sorted((home / "vault").rglob("*"))
    return {str(p): p.read_bytes() for p in files if p.is_file() and "locks" not in p.parts}


@pytest.fixture
def seeded(home) -> Path:
    res = subprocess.run(
        [tool("authsome-helper"), "store", "anthropic"],
        input=json.dumps({"api_key": KEY}).encode(),
        capture_output=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    return home


def _check_no_traceback(stderr: bytes) -> None:
    assert b"Traceback" not in stderr, stderr[-1500:]


json_objects = st.dictionaries(
    st.sampled_from(
        [
            "provider",
            "connection",
            "min_ttl",
            "api_key",
            "access_token",
            "expires_in",
            "expires_at",
            "scopes",
            "uri",
            "revoke",
            "x",
        ]
    ),
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.lists(st.text(max_size=5), max_size=3),
    max_size=5,
).map(lambda d: json.dumps(d).encode())


@PROC
@given(
    action=st.sampled_from(
        ["get", "store", "erase", "refresh", "list", "version", "headers", "k8s", "bogus"]
    ),
    with_provider=st.booleans(),
    stdin=st.binary(max_size=200) | json_objects | st.sampled_from(NASTY_BYTES),
)
@example(action="get", with_provider=False, stdin=DEEP_JSON[0])
@example(action="store", with_provider=True, stdin=b'{"access_token": "x", "expires_in": Infinity}')
@example(action="store", with_provider=True, stdin=b'{"api_key": "sk-ant-x", "expires_in": NaN}')
@example(action="get", with_provider=False, stdin=b'{"uri": "https://api.anthropic.com/v1"}')
def test_helper_process_random_stdin(seeded, action, with_provider, stdin):
    tally("process.authsome-helper")
    before = vault_bytes(seeded)
    argv = [tool("authsome-helper"), action] + (["anthropic"] if with_provider else [])
    res = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    assert res.returncode in SPEC_EXIT_CODES, (res.returncode, res.stderr[-500:])
    _check_no_traceback(res.stderr)
    if res.stdout == b"":
        # kubectl and Bazel read errors from stderr: their dialects print nothing on stdout
        foreign_action = action in ("headers", "k8s") or (action == "get" and not with_provider)
        assert res.returncode != 0 and foreign_action, res.stderr[-300:]
        assert vault_bytes(seeded) == before
        return
    lines = res.stdout.split(b"\n")
    assert len(lines) == 2 and lines[1] == b"", res.stdout[:300]
    answer = json.loads(lines[0])
    assert isinstance(answer, dict)
    # Bazel's `headers` answers and kubectl's ExecCredential have their own shapes.
    foreign = answer == {} or "headers" in answer or answer.get("kind") == "ExecCredential"
    assert answer.get("protocol") == 1 or foreign, answer
    if res.returncode != 0:
        assert "error" in answer
        assert vault_bytes(seeded) == before, "a failed request changed the vault"
    if action in ("get", "list", "version", "headers", "k8s", "bogus"):
        assert vault_bytes(seeded) == before
    if action in ("erase", "store") and res.returncode == 0:
        # put the fixture's connection back for the next example
        subprocess.run(
            [tool("authsome-helper"), "store", "anthropic"],
            input=json.dumps({"api_key": KEY}).encode(),
            capture_output=True,
            timeout=30,
        )


git_lines = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "protocol",
                "host",
                "path",
                "username",
                "password",
                "capability[]",
                "url",
                "wwwauth[]",
                "x",
            ]
        ),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    ),
    max_size=6,
).map(lambda kv: "".join(f"{k}={v}\n" for k, v in kv).encode("utf-8"))


@PROC
@given(
    action=st.sampled_from(["get", "store", "erase", "capability", "bogus"]),
    stdin=st.binary(max_size=200) | git_lines | st.sampled_from(NASTY_BYTES),
)
def test_git_adapter_random_stdin(seeded, action, stdin):
    tally("process.git-credential-authsome")
    before = vault_bytes(seeded)
    res = subprocess.run(
        [tool("git-credential-authsome"), action], input=stdin, capture_output=True, timeout=30
    )
    assert res.returncode in SPEC_EXIT_CODES, (res.returncode, res.stderr[-500:])
    _check_no_traceback(res.stderr)
    if action in ("get", "bogus", "capability") or res.returncode != 0:
        assert vault_bytes(seeded) == before
    for line in res.stdout.split(b"\n"):
        assert not line or b"=" in line  # only key=value lines for git


@PROC
@given(
    action=st.sampled_from(["get", "store", "erase", "list", "version", "bogus"]),
    stdin=st.binary(max_size=200) | json_objects | st.sampled_from(NASTY_BYTES),
)
@example(action="store", stdin=DEEP_JSON[0])
def test_docker_adapter_random_stdin(seeded, action, stdin):
    tally("process.docker-credential-authsome")
    before = vault_bytes(seeded)
    res = subprocess.run(
        [tool("docker-credential-authsome"), action], input=stdin, capture_output=True, timeout=30
    )
    assert res.returncode in (0, 1), (res.returncode, res.stderr[-500:])
    _check_no_traceback(res.stderr)
    assert res.stdout.endswith(b"\n") and res.stdout.count(b"\n") == 1, res.stdout[:200]
    if action in ("get", "list", "version", "bogus") or res.returncode != 0:
        assert vault_bytes(seeded) == before
