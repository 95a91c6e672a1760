"""The `device_code` flow (RFC 8628): show a code, let the user approve elsewhere, poll."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from authsome.errors import NetworkError, OAuthError, TimedOut
from authsome.oauth.endpoint import add_client_auth, post_form, token_request
from authsome.oauth.http import check_endpoint
from authsome.oauth.prompt import Deadline, say, show_url
from authsome.oauth.responses import parse_device_authorization
from authsome.oauth.tokens import ClientCredentials, TokenSet
from authsome.terminal import visible

if TYPE_CHECKING:
    from authsome.providers.model import OAuthConfig, Provider

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # §3.5: "the interval MUST be increased by 5 seconds"


def run_device_flow(
    provider: Provider,
    cfg: OAuthConfig,
    client: ClientCredentials,
    *,
    scopes: list[str],
    open_browser: bool,
    deadline: Deadline,
) -> TokenSet:
    check_endpoint(cfg.device_authorization_url, "device_authorization_url")
    check_endpoint(cfg.token_url, "token_url")
    name = provider.display_name
    data = {"scope": cfg.scope_separator.join(scopes)} if scopes else {}
    headers: dict[str, str] = {}
    add_client_auth(cfg.client_auth, client, data, headers)
    response = post_form(
        cfg.device_authorization_url or "",
        data,
        what="the device authorization endpoint",
        headers=headers,
    )
    grant = parse_device_authorization(
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
        now=int(time.time()),
    )
    _check_verification_uris(grant)
    say(f"Your one-time code for {name}: {visible(grant.user_code)}")
    if grant.verification_uri_complete:
        say(f"(or enter it yourself at {visible(grant.verification_uri)})")
    show_url(
        visible(grant.verification_uri_complete or grant.verification_uri),
        what=f"approve authsome at {name}",
        open_browser=open_browser,
    )
    interval = grant.interval
    what = f"your approval at {name}"
    problem = ""
    try:
        while True:
            deadline.sleep(interval, what)
            if time.time() >= grant.expires_at:
                raise TimedOut(f"the {name} device code expired before it was approved")
            if deadline.left() <= 0:
                raise deadline.timed_out(what + (f" (last error: {problem})" if problem else ""))
            try:
                return token_request(
                    cfg.token_url,
                    cfg.client_auth,
                    client,
                    {"grant_type": DEVICE_GRANT, "device_code": grant.device_code},
                    requested_scopes=scopes,
                    json_body=cfg.request_body == "json",
                )
            except NetworkError as exc:  # transient: keep polling, a bit slower (§3.5)
                problem = str(exc)
                interval = min(interval * 2, 60)
            except OAuthError as exc:
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval += SLOW_DOWN_STEP
                    continue
                if exc.error == "access_denied":
                    raise TimedOut(f"the sign-in was denied at {name} (access_denied)")
                if exc.error == "expired_token":
                    raise TimedOut(f"the {name} device code expired before it was approved")
                raise
    finally:
        deadline.done()


def _check_verification_uris(grant) -> None:
    """The page the user is sent to must be https (http only on loopback, as for every
    endpoint): a `javascript:` or plain-http page would be opened or shown as genuine."""
    from urllib.parse import urlsplit

    from authsome.oauth.http import is_loopback_host

    for uri in (grant.verification_uri, grant.verification_uri_complete):
        if uri is None:
            continue
        parts = urlsplit(uri)
        host = parts.hostname or ""
        if not (parts.scheme == "https" and host) and not (
            parts.scheme == "http" and is_loopback_host(host)
        ):
            raise OAuthError(
                "the device authorization response's verification_uri is not https://",
                "invalid_response",
            )
