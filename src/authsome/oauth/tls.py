"""What authsome trusts for its own outbound TLS: the system store plus the extra CAs in
`AUTHSOME_CA_BUNDLE` (a PEM file or a hashed directory). Import-light (no httpx), so
the proxy can use it too."""

from __future__ import annotations

import os
import ssl

from authsome.errors import UsageError


def ssl_context() -> ssl.SSLContext:
    """A verifying client context (hostname checked, system CAs + AUTHSOME_CA_BUNDLE)."""
    ctx = ssl.create_default_context()
    extra = os.environ.get("AUTHSOME_CA_BUNDLE")
    if extra:
        try:
            if os.path.isdir(extra):
                ctx.load_verify_locations(capath=extra)
            else:
                ctx.load_verify_locations(cafile=extra)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"AUTHSOME_CA_BUNDLE={extra}: cannot load CA certificates ({exc})")
    return ctx
