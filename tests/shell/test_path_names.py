"""Project files refuse names that tools read as a path to a config, key log, hook or
plugin (issue #14 item 5; the rule is in docs/shell.md)."""

from __future__ import annotations

import pytest

from authsome.shell import project

ISSUE_NAMES = [
    "SSLKEYLOGFILE",
    "OPENSSL_CONF",
    "DOTNET_STARTUP_HOOKS",
    "RUSTC_WRAPPER",
    "NPM_CONFIG_USERCONFIG",
    "PIP_CONFIG_FILE",
    "CURL_HOME",
    "WGETRC",
    "GNUPGHOME",
    "KUBECONFIG",
    "DOCKER_CONFIG",
]
# Not listed anywhere: caught by the rule itself (their endings).
BY_THE_RULE = ["TERRAFORM_CONFIG", "CONDARC", "MYTOOL_PLUGIN_DIR", "POSTGRES_PASSWORD_FILE"]


@pytest.mark.parametrize("name", ISSUE_NAMES + BY_THE_RULE)
def test_names_read_as_a_path_are_refused(name):
    assert "path to a config, key log, hook or plugin" in project.name_problem(name)
    with pytest.raises(project.ProjectError, match=name):
        project.parse(f'[env]\n{name} = "openai"\n'.encode())


@pytest.mark.parametrize(
    "name", ["OPENAI_API_KEY", "GITHUB_TOKEN", "NPM_TOKEN", "CARGO_REGISTRY_TOKEN", "HF_TOKEN"]
)
def test_token_names_stay_usable(name):
    assert project.name_problem(name) is None
