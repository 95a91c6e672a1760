"""The authorization request and callback checks (pure), and the client form checks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from authsome.oauth import authorize, client_form


def test_s256_rfc7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert authorize.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_and_state_are_random_and_well_formed():
    v = authorize.new_verifier()
    assert 43 <= len(v) <= 128 and v != authorize.new_verifier()
    assert authorize.new_state() != authorize.new_state()


def test_authorization_url_params():
    url = authorize.authorization_url(
        "https://idp.example/authorize?tenant=x",
        client_id="cid",
        redirect=authorize.redirect_uri(7998),
        scopes=["a", "b"],
        state="st",
        verifier="v" * 43,
        extra_params={"access_type": "offline", "state": "attacker"},
    )
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert q["tenant"] == "x" and q["access_type"] == "offline"
    assert q["state"] == "st"  # provider params cannot override ours
    assert q["redirect_uri"] == "http://127.0.0.1:7998/auth/callback/oauth"
    assert q["scope"] == "a b" and "%20" in url
    assert q["code_challenge_method"] == "S256" and q["code_challenge"] == authorize.s256("v" * 43)


def test_no_challenge_without_pkce():
    url = authorize.authorization_url(
        "https://idp/a", client_id="c", redirect="r", scopes=[], state="s", verifier=None
    )
    assert "code_challenge" not in url and "scope" not in url


def test_callback_checks_state_first():
    assert authorize.parse_callback("code=abc&state=s1", "s1").code == "abc"
    bad = authorize.parse_callback("code=abc&state=s2", "s1")
    assert bad.code is None and bad.error.error == "state_mismatch"
    # an error with the wrong state is still a state mismatch (it did not come from us)
    assert authorize.parse_callback("error=access_denied&state=x", "s1").error.error == (
        "state_mismatch"
    )
    denied = authorize.parse_callback("error=access_denied&state=s1", "s1")
    assert denied.error.error == "access_denied"
    assert authorize.parse_callback("state=s1", "s1").error.error == "invalid_request"


def test_form_checks():
    assert client_form.host_ok("127.0.0.1:7998", 7998)
    assert not client_form.host_ok("evil.example:7998", 7998)
    assert client_form.origin_ok(None, 7998) and client_form.origin_ok(
        "http://127.0.0.1:7998", 7998
    )
    assert not client_form.origin_ok("https://evil.example", 7998)
    assert not client_form.origin_ok("null", 7998)
    ok = client_form.parse_submission(
        b"form_token=T&client_id=abc&client_secret=s",
        content_type=client_form_type(),
        token="T",
        needs_secret=True,
    )
    assert (ok.client_id, ok.client_secret) == ("abc", "s")
    for body, status in [
        (b"form_token=X&client_id=abc&client_secret=s", 403),
        (b"client_id=abc&client_secret=s", 403),
        (b"form_token=T&client_id=abc", 400),
    ]:
        with pytest.raises(client_form.FormRejected) as e:
            client_form.parse_submission(
                body, content_type=client_form_type(), token="T", needs_secret=True
            )
        assert e.value.status == status
    with pytest.raises(client_form.FormRejected):
        client_form.parse_submission(
            b"{}", content_type="application/json", token="T", needs_secret=False
        )


def client_form_type() -> str:
    return "application/x-www-form-urlencoded"


def test_form_page_escapes_and_carries_token():
    page = client_form.render(
        display_name="<b>X</b>",
        connection="<i>work</i>",
        redirect="http://127.0.0.1:1/cb",
        token="TOK",
        needs_secret=False,
    ).decode()
    assert "<b>X</b>" not in page and 'value="TOK"' in page and "http://127.0.0.1:1/cb" in page
    assert "<i>work</i>" not in page and "&lt;i&gt;work&lt;/i&gt;" in page  # named, escaped
