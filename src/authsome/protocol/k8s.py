"""kubectl's exec credential plugin dialect (client.authentication.k8s.io), sans-IO.

kubectl (and client-go, and the Python client) run the plugin with the request in
KUBERNETES_EXEC_INFO and read an ExecCredential from stdout; the answer must carry the
apiVersion that was asked for.
"""

from __future__ import annotations

import json

API_V1 = "client.authentication.k8s.io/v1"
API_V1BETA1 = "client.authentication.k8s.io/v1beta1"
SUPPORTED = (API_V1, API_V1BETA1)


class ExecInfoError(ValueError):
    """KUBERNETES_EXEC_INFO we cannot answer."""


def requested_version(exec_info: str | None) -> str:
    """The apiVersion KUBERNETES_EXEC_INFO asks for; v1 when it is absent or silent."""
    if not exec_info:
        return API_V1
    try:
        info = json.loads(exec_info)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise ExecInfoError("KUBERNETES_EXEC_INFO is not valid JSON") from None
    version = info.get("apiVersion") if isinstance(info, dict) else None
    if version is None:
        return API_V1
    if version not in SUPPORTED:
        raise ExecInfoError(f"unsupported ExecCredential apiVersion {str(version)[:80]!r}")
    return version


def exec_credential(api_version: str, token: str, expires_at: str | None) -> bytes:
    """The ExecCredential to print: status.token, and status.expirationTimestamp (RFC 3339)
    when the token expires, so the client runs us again before then."""
    status = {"token": token}
    if expires_at:
        status["expirationTimestamp"] = expires_at
    doc = {"apiVersion": api_version, "kind": "ExecCredential", "status": status}
    return (json.dumps(doc) + "\n").encode()
