"""git's key=value dialect and the storage helper's rules, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authsome.protocol import git

NOW = 1_800_000_000


def test_parse_reads_to_blank_line_and_keeps_lists():
    data = (
        b"capability[]=authtype\nprotocol=https\nhost=example.com\n"
        b"wwwauth[]=Basic realm=x\nwwwauth[]=Bearer\nusername=a\nusername=b\n\n"
        b"password=ignored-after-blank-line\n"
    )
    req = git.parse(data)
    assert req == {
        "capability[]": ["authtype"],
        "protocol": "https",
        "host": "example.com",
        "wwwauth[]": ["Basic realm=x", "Bearer"],
        "username": "b",
    }


def test_parse_eof_without_blank_line_and_empty_list_reset():
    req = git.parse(b"wwwauth[]=a\nwwwauth[]=\nwwwauth[]=b\nhost=h")
    assert req == {"wwwauth[]": ["b"], "host": "h"}


def test_parse_value_may_contain_equals_and_crlf_is_tolerated():
    assert git.parse(b"password=a=b==\r\n") == {"password": "a=b=="}


@pytest.mark.parametrize(
    "data",
    [b"host\n", b"=value\n", b"password=a\0b\n", b"password=a\rb\n", b"user\0name=x\n"],
)
def test_parse_refuses_what_git_never_sends(data):
    with pytest.raises(git.GitProtocolError) as err:
        git.parse(data)
    assert "a\0b" not in str(err.value) and "value" not in str(err.value).split()[-1:]


@pytest.mark.parametrize(
    ("key", "value"),
    [("password", "a\nb"), ("password", "a\rb"), ("password", "a\0b"), ("a=b", "x"), ("", "x")],
)
def test_format_refuses_lines_git_would_reject(key, value):
    with pytest.raises(git.GitProtocolError) as err:
        git.format_fields([("username", "u"), (key, value)])
    assert value not in str(err.value) or not value


def test_format_exact_bytes():
    out = git.format_fields([("username", "x-access-token"), ("password", "tok=en")])
    assert out == b"username=x-access-token\npassword=tok=en\n"


safe_text = st.text(
    alphabet=st.characters(blacklist_characters="\0\n\r", blacklist_categories=("Cs",)),
    max_size=30,
)


@given(st.lists(st.tuples(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), safe_text), max_size=8))
def test_round_trip(pairs):
    # Non-empty values survive format -> parse (last value of a repeated key wins).
    pairs = [(k, v) for k, v in pairs if v]
    parsed = git.parse(git.format_fields(pairs))
    assert parsed == dict(pairs)


# --- provider hosts -------------------------------------------------------------------

PROVIDERS = [
    {"name": "github", "git_hosts": [{"host": "github.com", "username": "x-access-token"}]},
    {
        "name": "forge",
        "git_hosts": [{"host": "localhost:8443", "username": "oauth2", "bearer": True}],
    },
    {"name": "a", "git_hosts": [{"host": "dup.example", "username": "u"}]},
    {"name": "b", "git_hosts": [{"host": "DUP.example", "username": "u"}]},
    {"name": "broken", "git_hosts": ["nonsense", {"host": 3}]},
]


def test_provider_for_host():
    gh = git.provider_for_host(PROVIDERS, "https", "github.com")
    assert gh == {
        "provider": "github",
        "username": "x-access-token",
        "bearer": False,
        "connection": None,
    }
    assert git.provider_for_host(PROVIDERS, "https", "GitHub.com:443")["provider"] == "github"
    assert git.provider_for_host(PROVIDERS, "https", "localhost:8443")["bearer"] is True
    # never over cleartext to a remote host; loopback http is allowed for local work
    assert git.provider_for_host(PROVIDERS, "http", "github.com") is None
    assert git.provider_for_host(PROVIDERS, "http", "localhost:8443")["provider"] == "forge"
    # another port is another host; two claimants are ambiguous
    assert git.provider_for_host(PROVIDERS, "https", "localhost:9999") is None
    assert git.provider_for_host(PROVIDERS, "https", "dup.example") is None


def test_token_answer_username_password_or_bearer():
    plain = git.token_answer({}, "x-access-token", "tok", 1900000000, bearer=True)
    assert git.format_fields(plain) == (
        b"username=x-access-token\npassword=tok\npassword_expiry_utc=1900000000\n"
    )
    req = {"capability[]": ["authtype"]}
    assert git.format_fields(git.token_answer(req, "u", "tok", None, bearer=True)) == (
        b"capability[]=authtype\nauthtype=Bearer\ncredential=tok\nephemeral=1\n"
    )
    # git announced authtype but the host does not take bearer tokens
    assert git.token_answer(req, "u", "tok", None, bearer=False) == [
        ("username", "u"),
        ("password", "tok"),
    ]


# --- storage --------------------------------------------------------------------------


def _entry(**kw):
    req = {"protocol": "https", "host": "h.example", "username": "alice", "password": "pw"}
    req.update(kw)
    return git.entry_to_store(req, NOW)


def test_entry_to_store_keeps_only_known_fields_and_refuses_expired():
    e = _entry(password_expiry_utc=str(NOW + 60), oauth_refresh_token="rt", wwwauth="x")
    assert e == {
        "protocol": "https",
        "host": "h.example",
        "username": "alice",
        "password": "pw",
        "password_expiry_utc": NOW + 60,
        "oauth_refresh_token": "rt",
        "stored_at": NOW,
    }
    assert _entry(password_expiry_utc=str(NOW)) is None
    # as git's credential-store: empty counts as given (t0303's SSO host), missing does not
    assert _entry(password="", username="")["password"] == ""
    assert git.entry_to_store({"protocol": "https", "host": "h", "password": "p"}, NOW) is None
    assert git.entry_to_store({"protocol": "https", "host": "h", "username": "u"}, NOW) is None
    assert git.entry_to_store({"protocol": "https", "host": "", "username": "u"}, NOW) is None
    assert "password_expiry_utc" not in _entry(password_expiry_utc="0")


def test_entry_names_are_stable_distinct_and_grouped_by_host():
    a, b = _entry(), _entry(username="bob")
    with_path, empty_path = _entry(path="org/repo.git"), _entry(path="")
    names = {git.entry_name(e) for e in (a, b, with_path, empty_path)}
    assert len(names) == 4
    assert git.entry_name(a) == git.entry_name(_entry(password="other"))
    prefix = git.host_prefix("https", "h.example")
    assert all(n.startswith(prefix + "-") for n in names)
    assert not git.entry_name(_entry(host="other.example")).startswith(prefix)
    assert all(c in "0123456789abcdef-" for n in names for c in n)


def test_answer_from_selects_by_username_and_path():
    alice, bob = _entry(), _entry(username="bob", password="bobpw")
    repo = _entry(path="org/repo.git", password="repopw")
    entries = [alice, bob, repo]
    want = {"protocol": "https", "host": "h.example"}
    assert git.answer_from({**want, "username": "bob"}, entries, NOW) == [
        ("username", "bob"),
        ("password", "bobpw"),
    ]
    assert dict(git.answer_from({**want, "path": "org/repo.git"}, entries, NOW)) == {
        "username": "alice",
        "password": "repopw",
    }
    # a path git sends must match exactly
    assert git.answer_from({**want, "path": "org/other.git"}, entries, NOW) == []
    # without a path, a host-wide entry is preferred over a path-specific one
    assert dict(git.answer_from({**want, "username": "alice"}, entries, NOW))["password"] == "pw"
    assert git.answer_from({"protocol": "http", "host": "h.example"}, entries, NOW) == []


def test_answer_from_never_returns_an_expired_password():
    fresh = _entry(password_expiry_utc=str(NOW + 100), oauth_refresh_token="rt")
    assert git.answer_from({"host": "h.example"}, [fresh], NOW) == [
        ("username", "alice"),
        ("password", "pw"),
        ("password_expiry_utc", str(NOW + 100)),
        ("oauth_refresh_token", "rt"),
    ]
    later = NOW + 100
    assert git.answer_from({"host": "h.example"}, [fresh], later) == [
        ("username", "alice"),
        ("oauth_refresh_token", "rt"),
    ]
    no_rt = _entry(password_expiry_utc=str(NOW + 100))
    assert git.answer_from({"host": "h.example"}, [no_rt], later) == []


def test_matches_for_erase_checks_password_when_given():
    e = _entry()
    assert git.matches({"host": "h.example", "password": "pw"}, e, match_password=True)
    assert not git.matches({"host": "h.example", "password": "old"}, e, match_password=True)
    assert git.erasable({"host": "h.example"})
    assert not git.erasable({"password": "pw"})
