"""kubectl's exec credential plugin dialect (client.authentication.k8s.io), sans-IO.

kubectl (and client-go, and the Python client) run the plugin with the request in
KUBERNETES_EXEC_INFO and read an ExecCredential from stdout; the answer must carry the
apiVersion that was asked for.
"""

from __future__ import annotations

import json

from authsome.errors import UsageError

API_V1 = "client.authentication.k8s.io/v1"
API_V1BETA1 = "client.authentication.k8s.io/v1beta1"
SUPPORTED = (API_V1, API_V1BETA1)


class ExecInfoError(UsageError):
    """KUBERNETES_EXEC_INFO we cannot answer."""


def _info(exec_info: str | None) -> dict:
    if not exec_info:
        return {}
    try:
        info = json.loads(exec_info)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise ExecInfoError("KUBERNETES_EXEC_INFO is not valid JSON") from None
    return info if isinstance(info, dict) else {}


def requested_version(exec_info: str | None) -> str:
    """The apiVersion KUBERNETES_EXEC_INFO asks for; v1 when it is absent or silent."""
    version = _info(exec_info).get("apiVersion")
    if version is None:
        return API_V1
    if version not in SUPPORTED:
        raise ExecInfoError(f"unsupported ExecCredential apiVersion {str(version)[:80]!r}")
    return version


def cluster_server(exec_info: str | None) -> tuple[str, str, str] | None:
    """(scheme, host[:port], path) of `spec.cluster.server`, the API server the token is
    for; None when kubectl does not say (the kubeconfig lacks `provideClusterInfo: true`)."""
    from urllib.parse import urlsplit

    spec = _info(exec_info).get("spec")
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    server = cluster.get("server") if isinstance(cluster, dict) else None
    if server is None:
        return None
    parts = urlsplit(server) if isinstance(server, str) else None
    if parts is None or not parts.hostname or parts.username is not None:
        raise ExecInfoError("spec.cluster.server in KUBERNETES_EXEC_INFO is not a URL")
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def exec_credential(api_version: str, token: str, expires_at: str | None) -> bytes:
    """The ExecCredential to print: status.token, and status.expirationTimestamp (RFC 3339)
    when the token expires, so the client runs us again before then."""
    status = {"token": token}
    if expires_at:
        status["expirationTimestamp"] = expires_at
    doc = {"apiVersion": api_version, "kind": "ExecCredential", "status": status}
    return (json.dumps(doc) + "\n").encode()
