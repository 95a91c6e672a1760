"""`authsome-helper k8s PROVIDER [--connection C]`: a kubectl exec credential plugin.

kubectl says which ExecCredential version it wants in KUBERNETES_EXEC_INFO; we answer
with the provider's token (refreshed if needed) and its expiry, so kubectl runs us
again only when the token is about to lapse.
"""

from __future__ import annotations

import os
import sys

from authsome.errors import AuthsomeError, UsageError
from authsome.protocol import k8s as proto

PROG = "authsome-helper k8s"


def run(provider: str | None, connection: str, request: dict) -> int:
    """Print the ExecCredential. `request` is unused beyond `min_ttl`: kubectl sends
    nothing on stdin (it is the user's terminal when the plugin is interactive)."""
    try:
        if not provider:
            raise UsageError("usage: authsome-helper k8s PROVIDER [--connection NAME]")
        try:
            version = proto.requested_version(os.environ.get("KUBERNETES_EXEC_INFO"))
        except proto.ExecInfoError as exc:
            raise UsageError(str(exc)) from None
        from authsome.fastpath import answer
        from authsome.protocol.helper import answer_secret

        got = answer(provider, connection, request.get("min_ttl", 60))
        out = proto.exec_credential(version, answer_secret(got), got.get("expires_at"))
    except AuthsomeError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    return 0
