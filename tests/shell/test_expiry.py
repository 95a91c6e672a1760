"""A short-lived token is refreshed (by the real test authorization server) and re-exported
at the first prompt after it expires."""

from __future__ import annotations

import time

import pytest

from authsome.credentials import CredentialService
from authsome.oauth.tokens import ClientCredentials, TokenSet
from oauth.kit import write_provider
from support.authserver import AuthServer

from .conftest import SHELLS, allow, write_project

LIFETIME = 5


@pytest.fixture
def short_lived(home):
    """Provider `rf` on the loopback server, connected with a 5-second access token."""
    with AuthServer(access_ttl=LIFETIME) as srv:
        write_provider(home, srv, "rf")
        srv.register_client("rc", "rc-secret", redirect_uris=["http://127.0.0.1/cb"])
        service = CredentialService()
        service.store_client("rf", ClientCredentials("rc", "rc-secret"))
        minted = srv.issue_tokens("rc", "read")
        tokens = TokenSet(
            minted["access_token"], minted["refresh_token"], int(time.time()) + LIFETIME, ["read"]
        )
        service.store_token("rf", "default", tokens)
        yield srv, minted["access_token"]


@pytest.mark.parametrize("shell", SHELLS)
def test_expired_token_is_refreshed_and_reexported(shell, session, short_lived, tmp_path, run):
    srv, first = short_lived
    proj = tmp_path / "proj"
    write_project(proj, {"RF_TOKEN": "rf"})
    allow(run, proj)
    s = session(shell)
    s.cd(proj)
    entered = s.value("RF_TOKEN")
    assert entered and srv.is_active(entered)
    refreshes = srv.counts["token:refresh_token"]
    time.sleep(LIFETIME + 1.2)
    s.run("true")
    again = s.value("RF_TOKEN")
    assert again != entered and srv.is_active(again)
    assert srv.counts["token:refresh_token"] == refreshes + 1
    assert entered == first  # still good on entry: not refreshed before its time
