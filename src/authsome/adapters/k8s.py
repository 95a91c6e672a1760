"""`authsome-helper k8s PROVIDER [--connection C]`: a kubectl exec credential plugin.

kubectl says which ExecCredential version it wants in KUBERNETES_EXEC_INFO; we answer
with the provider's token (refreshed if needed) and its expiry, so kubectl runs us
again only when the token is about to lapse.
"""

from __future__ import annotations

import os
import sys

from authsome.entrypoints import stderr_report, warn
from authsome.errors import UsageError
from authsome.protocol import k8s as proto

PROG = "authsome-helper k8s"


def check_cluster(provider: str, connection: str, scheme: str, host: str, path: str) -> None:
    """The cluster kubectl is talking to must be one of the provider's api_url hosts (the
    same matching as the proxy and headers adapter), over TLS unless on loopback: a
    kubeconfig pointing at another server must not be handed this provider's token."""
    from authsome.fastpath import matchable_providers
    from authsome.protocol.bazel import may_send_token
    from authsome.providers.matching import match_url
    from authsome.terminal import visible

    shown = visible(f"{scheme}://{host}")
    if not may_send_token(scheme, host):
        raise UsageError(f"the cluster server {shown} is not https: no token sent")
    candidates = [
        (p["name"], entry)
        for p in matchable_providers(host=host)
        if p.get("name") == provider and p.get("_connection", connection) == connection
        for entry in p.get("api_url") or ()
        if isinstance(entry, str) and "{" not in entry
    ]
    if match_url(candidates, host, path) != provider:
        raise UsageError(
            f"the cluster server {shown} is not one of {provider}'s api_url hosts: no token sent"
        )


def serve(provider: str | None, connection: str, request: dict) -> int:
    """Print the ExecCredential. `request` is unused beyond `min_ttl`: kubectl sends
    nothing on stdin (it is the user's terminal when the plugin is interactive)."""
    if not provider:
        raise UsageError("usage: authsome-helper k8s PROVIDER [--connection NAME]")
    version = proto.requested_version(os.environ.get("KUBERNETES_EXEC_INFO"))
    server = proto.cluster_server(os.environ.get("KUBERNETES_EXEC_INFO"))
    if server is not None:
        check_cluster(provider, connection, *server)
    from authsome.fastpath import answer
    from authsome.protocol.helper import answer_secret

    got = answer(provider, connection, request.get("min_ttl", 60), warn=warn)
    sys.stdout.buffer.write(
        proto.exec_credential(version, answer_secret(got), got.get("expires_at"))
    )
    sys.stdout.flush()
    return 0


# kubectl shows the plugin's stderr; stdout stays for an ExecCredential only.
report = stderr_report(PROG)
