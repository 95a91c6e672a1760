"""Fuzzing what authsome reads from files and from the browser: provider definitions,
`.authsome.toml`, the loopback login server's callback and client form, and the
token endpoint's answers. Only our own errors may escape; nothing hangs.
"""

from __future__ import annotations

import copy
import glob
import http.client
import json
import os
import socket

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from authsome.errors import AuthsomeError, OAuthError, ProviderError
from authsome.oauth import client_form, loopback, responses
from authsome.oauth.authorize import CALLBACK_PATH, parse_callback
from authsome.providers import loader
from authsome.shell import project
from hardening.fuzzkit import size, tally

pytestmark = pytest.mark.timeout(180)

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)

BUNDLED = sorted(glob.glob(os.path.join(loader.BUNDLED_DIR, "*.json")))
BASES = [json.loads(open(p).read()) for p in BUNDLED[:: max(1, len(BUNDLED) // 12)]]  # noqa: SIM115


def _paths(obj, prefix=()):
    """Every (path) inside a JSON document, to mutate one at random."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_definitions(draw):
    """A real bundled definition with a few fields replaced, removed or added."""
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = draw(json_value)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(json_value)
    return doc


@given(
    data=mutated_definitions()
    | st.dictionaries(st.text(max_size=12), json_value, max_size=8)
    | json_value
)
def test_provider_definition_only_provider_error(data):
    tally("providers.parse_definition")
    try:
        provider = loader.parse_definition(data, path="fuzz.json")
    except ProviderError as exc:
        assert str(exc)  # a message, with the path
        return
    assert provider.name and provider.auth_type in ("oauth2", "api_key")


@settings(max_examples=size(40, 600))
@given(text=st.text(max_size=300) | st.sampled_from(["[" * 50_000, '{"a":' * 30_000, "// x\n{}"]))
def test_provider_file_any_text(text, tmp_path_factory):
    tally("providers.load_file")
    path = tmp_path_factory.mktemp("p") / "fuzz.json"
    path.write_text(text, errors="surrogateescape")
    try:
        provider = loader.load_file(str(path), "custom")
    except ProviderError as exc:
        assert exc.path == str(path) and str(exc).startswith(str(path))  # says which file
        return
    # Only a whole, valid definition named after its file loads.
    assert provider.name == "fuzz" and provider.auth_type in ("oauth2", "api_key")


# -- .authsome.toml ---------------------------------------------------------------------

toml_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True) | st.sampled_from(
    [
        "PATH",
        "LD_PRELOAD",
        "BASH_ENV",
        "GIT_SSH_COMMAND",
        "AUTHSOME_MASTER_KEY",
        "PYTHONPATH",
        "path",
    ]
)
toml_values = st.text(max_size=30) | st.sampled_from(
    ["github", "github:work", ":x", "a:", "x:@y", "../etc"]
)


@st.composite
def toml_files(draw):
    lines = ["[env]"]
    for name, value in draw(st.dictionaries(toml_names, toml_values, max_size=5)).items():
        lines.append(f"{name} = {json.dumps(value)}")
    if draw(st.booleans()):
        lines.insert(0, draw(st.text(max_size=40)))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@given(content=st.binary(max_size=300) | toml_files())
@example(content=b"x" * (project.MAX_BYTES + 1))
@example(content=b"[env]\nGITHUB_TOKEN = 'github'\nLD_PRELOAD = 'github'\n")
def test_project_file_only_project_error(content):
    tally("shell.project.parse")
    try:
        entries = project.parse(content)
    except project.ProjectError:
        return
    for e in entries:
        assert project.name_problem(e.name) is None  # never a denylisted name
        assert e.provider and e.connection


@pytest.mark.parametrize("content", [b"a = " + b"[" * 50_000, b"[env]\nA = " + b"{x=" * 20_000])
def test_project_file_deep_nesting(content):
    tally("shell.project.parse")
    with pytest.raises(project.ProjectError):
        project.parse(content)


@given(name=st.text(max_size=20))
def test_project_denylist_is_total(name):
    tally("shell.project.name_problem")
    if project.name_problem(name) is None:
        assert name in name.upper() and name not in project.DENIED
        assert not name.startswith(project.DENIED_PREFIXES)
        assert not project.names_a_path(name)


# -- the browser side of a login ---------------------------------------------------------


@given(
    query=st.text(max_size=200)
    | st.builds(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items()),
        st.dictionaries(
            st.sampled_from(["state", "code", "error", "error_description", "x"]),
            st.text(max_size=20),
        ),
    )
)
def test_callback_query(query):
    tally("oauth.authorize.parse_callback")
    result = parse_callback(query, "expected-state")
    assert (result.code is None) != (result.error is None)
    if result.code is not None:
        assert "state=expected-state" in query


@given(
    body=st.binary(max_size=300),
    ctype=st.none()
    | st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "text/plain",
            "application/x-www-form-urlencoded; charset=utf-8",
            "",
        ]
    ),
    needs_secret=st.booleans(),
)
@example(
    body=b"form_token=tok&client_id=a&client_secret=b",
    ctype="application/x-www-form-urlencoded",
    needs_secret=True,
)
def test_client_form_submission(body, ctype, needs_secret):
    tally("oauth.client_form.parse_submission")
    try:
        creds = client_form.parse_submission(
            body, content_type=ctype, token="tok", needs_secret=needs_secret
        )
    except client_form.FormRejected as exc:
        assert exc.status in (400, 403, 413, 415)
        return
    assert creds.client_id and (creds.client_secret or not needs_secret)


@given(host=st.none() | st.text(max_size=30), origin=st.none() | st.text(max_size=30))
def test_client_form_host_and_origin(host, origin):
    tally("oauth.client_form.host_ok/origin_ok")
    if client_form.host_ok(host, 7998):
        assert host.lower() in ("127.0.0.1:7998", "localhost:7998")
    if client_form.origin_ok(origin, 7998):
        assert origin is None or origin.lower() in (
            "http://127.0.0.1:7998",
            "http://localhost:7998",
        )


@given(
    port=st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=8)
)
def test_callback_port_env(port, monkeypatch_session):
    tally("oauth.loopback.callback_port")
    monkeypatch_session.setenv("AUTHSOME_CALLBACK_PORT", port)
    try:
        assert 0 < loopback.callback_port() <= 65535
    except AuthsomeError:
        pass


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


# -- token endpoint answers (a hostile or broken authorization server) --------------------


@given(
    status=st.sampled_from([200, 201, 400, 401, 500]),
    ctype=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/html", ""]
    ),
    body=st.binary(max_size=200)
    | st.dictionaries(
        st.sampled_from(
            [
                "access_token",
                "refresh_token",
                "expires_in",
                "scope",
                "token_type",
                "ok",
                "error",
                "authed_user",
            ]
        ),
        json_value,
        max_size=6,
    ).map(lambda d: json.dumps(d).encode()),
)
@example(status=200, ctype="application/json", body=b"[" * 100_000)
@example(status=200, ctype="application/json", body=b'{"access_token": "a", "expires_in": 1e999}')
@example(status=200, ctype="application/json", body=b'{"access_token": "a", "expires_in": NaN}')
def test_token_response_only_oauth_error(status, ctype, body):
    tally("oauth.responses.parse_token_response")
    try:
        tokens = responses.parse_token_response(status, ctype, body, now=1_700_000_000)
    except OAuthError:
        return
    assert tokens.access_token
    assert tokens.expires_at is None or isinstance(tokens.expires_at, int)


# -- the live loopback server: raw, malformed requests ------------------------------------


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


RAW_REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n",
    b"POST /client/{t} HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nContent-Length: abc\r\n\r\n",
    b"POST /client/{t} HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nContent-Length: -5\r\n\r\n",
    b"POST /client/{t} HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nContent-Length: 99999999\r\n\r\n",
    b"POST /client/{t} HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nclient_id",
    b"GET "
    + CALLBACK_PATH.encode()
    + b"?state=the-state&code=x HTTP/1.1\r\nHost: evil:{p}\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    b"\r\n\r\n",
]


def test_loopback_server_survives_malformed_requests(capfd):
    """Raw malformed requests: each gets an HTTP answer (or a closed socket), the server
    prints no traceback (the login's terminal), and then still takes the real callback."""
    tally("oauth.loopback(live)")
    form = loopback.FormSpec("Fuzz", True, None, on_submit=lambda creds: None)
    with loopback.LoopbackServer(0, "the-state", "Fuzz", form=form) as srv:
        for raw in RAW_REQUESTS:
            tally("oauth.loopback(live)")
            raw = raw.replace(b"{p}", str(srv.port).encode()).replace(b"{t}", form.token.encode())
            reply = _raw(srv.port, raw)
            # an HTTP answer, or http.server's bare error page for a non-HTTP line
            assert reply == b"" or reply.startswith((b"HTTP/1.", b"<!DOCTYPE")), reply[:80]
        assert srv.client is None and srv.result is None
        srv.report(True, "exchanged")  # the callback's page waits for the exchange's outcome
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request(
            "GET",
            f"{CALLBACK_PATH}?state=the-state&code=good",
            headers={"Host": f"127.0.0.1:{srv.port}"},
        )
        assert conn.getresponse().status == 200
        assert srv.result.code == "good"
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-2000:]
