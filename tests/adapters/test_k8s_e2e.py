"""The official `kubernetes` Python client runs `authsome-helper k8s` as its exec plugin
and sends the token it gets to a local API server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support.cli import tool
from support.providers import write_oauth_provider

pytest.importorskip("kubernetes")

CLIENT = """
import sys
from kubernetes import client, config
api = config.new_client_from_config(config_file=sys.argv[1])
names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
print(",".join(names))
"""


@pytest.fixture
def api_server():
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            body = json.dumps(
                {
                    "kind": "NamespaceList",
                    "apiVersion": "v1",
                    "metadata": {},
                    "items": [{"metadata": {"name": "default"}}],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def run_client(cfg) -> subprocess.CompletedProcess:
    """The kubernetes Python client listing namespaces with this kubeconfig."""
    return subprocess.run(
        [sys.executable, "-c", CLIENT, str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def kubeconfig(path, server, api_version, args):
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "exec": {
                                "apiVersion": api_version,
                                "command": tool("authsome-helper"),
                                "args": args,
                                "interactiveMode": "Never",
                            }
                        },
                    }
                ],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "api_version",
    ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"],
)
def test_kubernetes_client_sends_the_providers_token(home, run, tmp_path, api_server, api_version):
    server, seen = api_server
    write_oauth_provider(home, "cluster")
    run(
        "authsome-helper",
        "store",
        "cluster",
        "--connection",
        "prod",
        input='{"access_token":"kube-tok","expires_in":3600}',
    )
    cfg = kubeconfig(
        tmp_path / "kubeconfig", server, api_version, ["k8s", "cluster", "--connection", "prod"]
    )
    r = run_client(cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "default"
    assert seen == ["Bearer kube-tok"]


def test_plugin_failure_is_one_line_and_the_spec_exit_code(home, run, tmp_path, api_server):
    server, seen = api_server
    write_oauth_provider(home, "cluster")
    cfg = kubeconfig(
        tmp_path / "kubeconfig", server, "client.authentication.k8s.io/v1", ["k8s", "cluster"]
    )
    r = run_client(cfg)
    # the client logs the plugin's one line and goes on without a token
    assert "exec: process returned 3. authsome-helper k8s: no connection" in r.stderr
    assert seen == [None]
    direct = run("authsome-helper", "k8s", "cluster", input="")
    assert direct.returncode == 3
    assert direct.stderr.strip().count("\n") == 0 and "authsome login cluster" in direct.stderr


def test_exec_credential_shape_and_expiry(home, run, monkeypatch):
    write_oauth_provider(home, "cluster")
    run(
        "authsome-helper",
        "store",
        "cluster",
        input='{"access_token":"t","expires_at":"2031-02-03T04:05:06Z"}',
    )
    monkeypatch.setenv(
        "KUBERNETES_EXEC_INFO",
        '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{}}',
    )
    r = run("authsome-helper", "k8s", "cluster", input="")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": "t", "expirationTimestamp": "2031-02-03T04:05:06Z"},
    }
    monkeypatch.setenv("KUBERNETES_EXEC_INFO", '{"apiVersion":"client.authentication.k8s.io/v9"}')
    r = run("authsome-helper", "k8s", "cluster", input="")
    assert r.returncode == 2 and r.stdout == ""


def exec_info(server: str) -> str:
    spec = {"cluster": {"server": server}, "interactive": False}
    return json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "spec": spec}
    )


def test_token_only_for_a_cluster_server_among_the_providers_hosts(home, run, monkeypatch):
    """With `provideClusterInfo: true` kubectl names the API server: the token goes to
    the provider's own api_url hosts only (#19 item 13)."""
    write_oauth_provider(home, "cluster", api_url=["k8s.cluster.test", "127.0.0.1:6443"])
    run("authsome-helper", "store", "cluster", input='{"access_token":"kt","expires_in":3600}')
    for server in (
        "https://k8s.cluster.test",
        "https://K8S.cluster.test:443/",
        "http://127.0.0.1:6443",
    ):
        monkeypatch.setenv("KUBERNETES_EXEC_INFO", exec_info(server))
        r = run("authsome-helper", "k8s", "cluster", input="")
        assert r.returncode == 0, (server, r.stderr)
        assert json.loads(r.stdout)["status"]["token"] == "kt"
    for server in (
        "https://evil.test:6443",
        "https://k8s.cluster.test.evil.test",
        "http://k8s.cluster.test",  # the right host, but in cleartext
        "https://127.0.0.1:7443",  # another port than the entry names
        "not a url",
    ):
        monkeypatch.setenv("KUBERNETES_EXEC_INFO", exec_info(server))
        r = run("authsome-helper", "k8s", "cluster", input="")
        assert r.returncode == 2 and r.stdout == "", server
        assert "kt" not in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_kubernetes_client_with_cluster_info_refuses_another_server(
    home, run, tmp_path, api_server
):
    server, seen = api_server
    write_oauth_provider(home, "cluster", api_url=["k8s.cluster.test"])
    run("authsome-helper", "store", "cluster", input='{"access_token":"kt","expires_in":3600}')
    cfg = kubeconfig(
        tmp_path / "kubeconfig", server, "client.authentication.k8s.io/v1", ["k8s", "cluster"]
    )
    doc = json.loads(cfg.read_text())
    doc["users"][0]["user"]["exec"]["provideClusterInfo"] = True
    cfg.write_text(json.dumps(doc))
    r = run_client(cfg)
    assert "is not one of cluster's api_url hosts" in r.stderr
    assert seen == [None]  # the loopback API server never saw the token
