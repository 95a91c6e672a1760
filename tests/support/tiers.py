"""The quick tier (`scripts/test --quick`, under a minute): pure functions and unit tests,
plus CLI checks that start no server. Paths under tests/; a new file joins by name here."""

from __future__ import annotations

QUICK = (
    "core/",
    "providers/",
    "adapters/test_docker_protocol.py",
    "adapters/test_git_protocol.py",
    "adapters/test_k8s_bazel_protocol.py",
    "catalog/test_import.py",
    "catalog/test_templates.py",
    "hardening/test_fuzz_config.py",
    "hardening/test_fuzz_protocols.py",
    "oauth/test_authorize.py",
    "oauth/test_responses.py",
    "proxy/test_pure.py",
    "proxy/test_http_messages.py",
    "shell/test_project.py",
)


def in_quick_tier(rel: str) -> bool:
    """Is the test file (or, ending in '/', the directory) `rel` under tests/ in the tier?"""
    if rel.endswith("/"):
        return any(q.startswith(rel) or rel.startswith(q) for q in QUICK)
    return any(rel.startswith(q) if q.endswith("/") else rel == q for q in QUICK)
