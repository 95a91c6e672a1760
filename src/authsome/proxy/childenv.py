"""The environment `authsome run` gives its child (SPEC §6.3). Pure: dict in, dict out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from authsome.errors import RUN_MARKER

PLACEHOLDER = "authsome-proxy-managed"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
# The vault key must never reach the child: with it, the child could read every secret.
REMOVED = ("AUTHSOME_MASTER_KEY", "AUTHSOME_PASSPHRASE")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
BUNDLE_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO")
BUNDLE_VARS += ("AWS_CA_BUNDLE",)
CA_VARS = ("NODE_EXTRA_CA_CERTS", "DENO_CERT")


def no_proxy(existing: str | None) -> str:
    """The user's NO_PROXY entries (order kept, duplicates dropped) plus loopback."""
    out: list[str] = []
    for item in [*(existing or "").split(","), *LOOPBACK]:
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return ",".join(out)


def child_env(
    base: Mapping[str, str],
    proxy_url: str,
    ca_path: str,
    bundle_path: str,
    managed_vars: Iterable[str] = (),
    wgetrc: str | None = None,
) -> dict[str, str]:
    """`base` (the user's environment) adjusted for a child that talks through the proxy.
    `wgetrc`: a wgetrc naming the bundle, for a wget that reads no CA variable."""
    env = {k: v for k, v in base.items() if k not in REMOVED}
    for name in PROXY_VARS:
        env[name] = proxy_url
    merged = no_proxy(base.get("NO_PROXY") or base.get("no_proxy"))
    env["NO_PROXY"] = env["no_proxy"] = merged
    env["NODE_USE_ENV_PROXY"] = "1"
    for name in BUNDLE_VARS:
        env[name] = bundle_path
    for name in CA_VARS:
        env[name] = ca_path
    for name in managed_vars:
        env[name] = PLACEHOLDER
    if wgetrc is not None:
        env["WGETRC"] = wgetrc
    env[RUN_MARKER] = "1"  # secret-handing commands refuse inside (SPEC §6.10)
    return env


def user_ca_files(base: Mapping[str, str]) -> list[str]:
    """CA files the user already pointed tools at; folded into the child's bundle."""
    out: list[str] = []
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        path = base.get(name)
        if path and path not in out:
            out.append(path)
    return out
