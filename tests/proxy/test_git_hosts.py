"""git under `authsome run` (SPEC §6.10): the git adapter answers no credential there,
and the proxy injects the token on each provider's `git_hosts` as git would send it
(Basic, the host's username and the token), so clone and push keep working."""

from __future__ import annotations

import os
from pathlib import Path

from proxy.conftest import TOKEN, authsome_run, store
from support.cli import tool
from support.providers import write_oauth_provider
from support.tls_servers import GitServer

GIT_HOST = "git.example.test"


def test_clone_and_push_get_the_token_from_the_proxy(vault, pki, tmp_path, mode):
    write_oauth_provider(
        vault, "hub", ["api.hub.test"], git_hosts=[{"host": GIT_HOST, "username": "x-access-token"}]
    )
    store("hub", TOKEN)
    root = tmp_path / "repos"
    root.mkdir()
    git_home = tmp_path / "git-home"
    git_home.mkdir()
    env = {
        **os.environ,
        "HOME": str(git_home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        # the adapter as git's helper, as `authsome` sets it up; it must say nothing here
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": tool("git-credential-authsome"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
    }  # fmt: skip
    env.pop("GIT_CONFIG_GLOBAL", None)
    with GitServer(root, pki["cert"], pki["key"]) as git:
        git.accept[(None, "x-access-token")] = TOKEN
        git.add_repo("demo.git")
        url = f"https://{GIT_HOST}:{git.port}/demo.git"
        work = tmp_path / "work"
        script = (
            f'git clone -q "{url}" "{work}" && cd "{work}" && echo more >> README && '
            "git commit -qam more && git push -q origin HEAD"
        )
        res = authsome_run(
            *mode, "--resolve", f"{GIT_HOST}:{git.port}:127.0.0.1", "--", "sh", "-c", script,
            env=env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert (work / "README").read_text().startswith("demo.git")
        assert {(repo, user) for repo, _, user in git.seen} == {("demo.git", "x-access-token")}
        assert git.denied == 0  # the first request already carried the token
        log = Path(root / "demo.git")
        assert (log / "refs" / "heads").exists()
    assert TOKEN not in res.stdout + res.stderr
