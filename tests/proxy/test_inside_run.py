"""Inside `authsome run` (SPEC §6.10): commands that hand out secrets refuse with one
line; the git and docker adapters answer "no credential". A guard for honest agents
(a hostile one is what --sandbox is for: tests/proxy/test_sandbox.py)."""

from __future__ import annotations

import subprocess

import pytest

from proxy.conftest import TOKEN, authsome_run, store
from support.cli import tool
from support.providers import write_oauth_provider

REFUSING = {
    "export": ["authsome", "export", "testapi"],
    "get --show-secret": ["authsome", "get", "testapi", "--show-secret"],
    "get --field access_token": ["authsome", "get", "testapi", "--field", "access_token"],
    "helper get": ["authsome-helper", "get", "testapi"],
}


@pytest.mark.parametrize("name", sorted(REFUSING))
def test_secret_commands_refuse_inside_run(vault, name):
    argv = REFUSING[name]
    res = authsome_run("--", tool(argv[0]), *argv[1:])
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if "refused inside `authsome run`" in line]
    assert len(lines) == 1 and "the proxy adds the token" in lines[0]
    assert TOKEN not in res.stdout + res.stderr


def test_the_same_commands_answer_outside_run(vault, run):
    res = run("authsome", "export", "testapi")
    assert res.returncode == 0 and TOKEN in res.stdout


def test_git_and_docker_adapters_answer_no_credential_inside_run(vault):
    write_oauth_provider(
        vault, "hub", ["api.hub.test"],
        git_hosts=[{"host": "git.hub.test", "username": "x-access-token"}],
        docker_registries=[{"registry": "registry.hub.test", "username": "bot"}],
    )  # fmt: skip
    store("hub", TOKEN)
    git = ["sh", "-c", 'printf "protocol=https\\nhost=git.hub.test\\n\\n" | "$0" get',
           tool("git-credential-authsome")]  # fmt: skip
    docker = ["sh", "-c", 'printf https://registry.hub.test | "$0" get',
              tool("docker-credential-authsome")]  # fmt: skip
    # outside a run both answer with the token...
    assert TOKEN in subprocess.run(git, capture_output=True, text=True).stdout
    assert TOKEN in subprocess.run(docker, capture_output=True, text=True).stdout
    # ...inside, nothing: git and docker go on unauthenticated, the proxy injects
    inside_git = authsome_run("--", *git)
    assert inside_git.returncode == 0 and inside_git.stdout == "", inside_git.stderr
    inside_docker = authsome_run("--", *docker)
    assert inside_docker.returncode != 0 and "credentials not found" in inside_docker.stdout
    assert TOKEN not in inside_git.stderr + inside_docker.stdout + inside_docker.stderr
