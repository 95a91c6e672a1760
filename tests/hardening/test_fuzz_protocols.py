"""Fuzzing the helper protocols' parsers and encoders (sans-IO, in process).

For each parser: any input raises nothing but the module's own error type, quickly
(hypothesis' deadline catches a parser that hangs); encoders round-trip through the
matching parser (and `export`'s shell quoting through a real `sh`).
"""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from authsome.errors import UsageError
from authsome.protocol import bazel, docker, envfmt, git, k8s
from authsome.protocol import helper as proto
from hardening.fuzzkit import DEEP_JSON, NASTY_BYTES, size, tally

pytestmark = pytest.mark.timeout(120)

# JSON-ish values: what a hostile or buggy client may put in any field.
json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from([*proto.FIELD_TYPES, "x", "", "PROVIDER"]) | st.text(max_size=10)
request_objects = st.dictionaries(field_names, json_value, max_size=8)
no_ctl = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\r\n"))


# -- authsome-helper JSON requests -----------------------------------------------------


@given(
    stdin=st.binary(max_size=300) | request_objects.map(lambda d: json.dumps(d).encode()),
    overrides=st.dictionaries(
        st.sampled_from(["provider", "connection"]), st.text(max_size=10) | st.none()
    ),
)
@example(stdin=b"[" * 100_000, overrides={})
@example(stdin=b'{"a":' * 50_000, overrides={})
@example(stdin=b'{"min_ttl": 1e999}', overrides={})
@example(stdin=b'{"min_ttl": NaN}', overrides={})
@example(stdin=b'{"provider": "\\ud800"}', overrides={})
def test_helper_parse_request(stdin, overrides):
    tally("protocol.helper.parse_request")
    try:
        request = proto.parse_request(stdin, overrides)
    except UsageError:
        return
    assert isinstance(request, dict)
    for field, types in proto.FIELD_TYPES.items():
        value = request.get(field)
        assert value is None or isinstance(value, types)
    if request.get("min_ttl") is not None:
        assert 0 <= request["min_ttl"] <= 86400 * 366
    # the answer to any accepted request can always be encoded
    json.loads(proto.encode(proto.ok_response()))


@given(message=st.text(max_size=200))
def test_helper_error_response_is_one_json_line(message):
    tally("protocol.helper.error_response")
    line = proto.encode(proto.error_response(UsageError(message)))
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line)["error"]["message"] == message


# -- git's key=value ------------------------------------------------------------------


@given(data=st.binary(max_size=400) | st.sampled_from(NASTY_BYTES))
def test_git_parse_any_bytes(data):
    tally("protocol.git.parse")
    try:
        request = git.parse(data)
    except git.GitProtocolError:
        return
    for key, value in request.items():
        assert isinstance(value, list) if key.endswith("[]") else isinstance(value, str)
    # Whatever parsed must go through the storage rules without surprises.
    now = 1_700_000_000
    entry = git.entry_to_store(request, now)
    if entry is not None:
        prefix = git.host_prefix(entry["protocol"], entry["host"])
        assert git.entry_name(entry).startswith(prefix + "-")
        answer = git.answer_from(request, [entry], now)
        # Something we stored can always be answered, with the password it was given.
        assert ("password", request["password"]) in answer
        git.format_fields(answer)
    found = git.provider_for_host(
        [{"name": "p", "git_hosts": [{"host": "h"}]}], "https", request.get("host", "")
    )
    assert found is None or found["provider"] == "p"
    assert isinstance(git.erasable(request), bool)


keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)


@given(fields=st.lists(st.tuples(keys, no_ctl), max_size=10))
def test_git_format_parse_round_trip(fields):
    tally("protocol.git.format+parse")
    data = git.format_fields(fields)
    assert git.parse(data) == dict(fields)  # last value wins, as in git


@given(key=keys, value=st.text(max_size=20))
def test_git_format_refuses_line_injection(key, value):
    tally("protocol.git.format_fields")
    hostile = value + "\nusername=evil"
    with pytest.raises(git.GitProtocolError):
        git.format_fields([(key, hostile)])


# -- docker ---------------------------------------------------------------------------


@given(data=st.binary(max_size=400) | st.sampled_from(NASTY_BYTES))
@example(data=DEEP_JSON[0])
@example(data=DEEP_JSON[1])
def test_docker_parsers_any_bytes(data):
    tally("protocol.docker.parse_store/parse_server_url")
    try:
        url, user, secret = docker.parse_store(data)
    except docker.DockerError as exc:
        assert exc.message and "\n" not in exc.message  # one line for the docker client
    else:  # a login to keep names its server and user; the secret may be empty
        assert url and user and isinstance(secret, str)
    try:
        url = docker.parse_server_url(data)
    except docker.DockerError as exc:
        assert exc.message == docker.MISSING_SERVER_URL
    else:
        assert isinstance(url, str) and url
    text = data.decode("utf-8", "replace")
    host = docker.registry_host(text)
    assert host == host.lower() and "/" not in host
    got = docker.provider_for_registry(
        [{"name": "p", "docker_registries": [{"registry": "ghcr.io"}]}], text
    )
    # Answered only for ghcr.io itself, bare or over https: never another host or scheme.
    if got is not None:
        assert got == {"provider": "p", "username": "x-access-token"} and host == "ghcr.io"
        assert "://" not in text.strip() or text.strip().lower().startswith("https://")


@given(
    obj=st.dictionaries(
        st.sampled_from(["ServerURL", "serverurl", "Username", "USERNAME", "Secret", "x"]),
        json_value,
        max_size=5,
    )
)
def test_docker_store_objects(obj):
    tally("protocol.docker.parse_store(json)")
    try:
        url, user, secret = docker.parse_store(json.dumps(obj).encode())
    except docker.DockerError:
        return
    assert url and user and isinstance(secret, str)


@given(
    url=st.text(min_size=1, max_size=40),
    user=st.text(min_size=1, max_size=20),
    secret=st.text(max_size=60),
)
def test_docker_format_parse_round_trip(url, user, secret):
    tally("protocol.docker.format+parse")
    encoded = docker.format_credentials(url, user, secret)
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1
    assert b"<" not in encoded and b">" not in encoded and b"&" not in encoded
    assert docker.parse_store(encoded) == (url, user, secret)
    assert json.loads(docker.format_list({url: user})) == {url: user}


# -- kubectl ExecCredential -------------------------------------------------------------


@given(info=st.text(max_size=200) | request_objects.map(json.dumps) | st.none())
@example(info="[" * 100_000)
@example(info='{"apiVersion": ' * 40_000)
def test_k8s_exec_info_any_text(info):
    tally("protocol.k8s.requested_version")
    try:
        version = k8s.requested_version(info)
    except k8s.ExecInfoError:
        return
    assert version in k8s.SUPPORTED


@given(
    version=st.sampled_from(k8s.SUPPORTED),
    token=st.text(max_size=60),
    expires=st.none() | st.text(max_size=25),
)
def test_k8s_exec_credential_round_trip(version, token, expires):
    tally("protocol.k8s.exec_credential")
    doc = json.loads(k8s.exec_credential(version, token, expires))
    assert doc["apiVersion"] == version and doc["status"]["token"] == token
    assert doc["status"].get("expirationTimestamp") == (expires or None)


# -- Bazel credential helper -------------------------------------------------------------


@given(request=request_objects | st.fixed_dictionaries({"uri": st.text(max_size=80)}))
@example(request={"uri": "https://[::1"})
@example(request={"uri": "http://user@:80/"})
def test_bazel_parse_uri_any_request(request):
    tally("protocol.bazel.parse_uri")
    try:
        scheme, host, path = bazel.parse_uri(request)
    except bazel.HeadersRequestError:
        return
    assert host and path.startswith("/") and scheme == scheme.lower()
    bazel.may_send_token(scheme, host)


@given(
    scheme=st.sampled_from(["http", "https", "ftp", "HTTP"]),
    host=st.sampled_from(["127.0.0.1", "localhost", "[::1]", "example.com", "127.0.0.1.evil.com"]),
    port=st.none() | st.integers(1, 65535),
)
def test_bazel_token_only_over_tls_or_loopback(scheme, host, port):
    tally("protocol.bazel.may_send_token")
    authority = host if port is None else f"{host}:{port}"
    s, h, _ = bazel.parse_uri({"uri": f"{scheme}://{authority}/x"})
    allowed = bazel.may_send_token(s, h)
    if allowed:
        assert s == "https" or (s == "http" and host in ("127.0.0.1", "localhost", "[::1]"))


@given(
    headers=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=4),
    expires=st.none() | st.text(max_size=20),
)
def test_bazel_format_response_round_trip(headers, expires):
    tally("protocol.bazel.format_response")
    doc = json.loads(bazel.format_response(headers, expires))
    assert doc["headers"] == {k: [v] for k, v in headers.items()}
    assert doc.get("expires") == (expires or None)


# -- export formats, evaluated by a real sh ----------------------------------------------

env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: (
        n not in ("PATH", "IFS", "HOME", "PWD", "OLDPWD", "PS1", "PS2", "PS4", "OPTIND", "ENV")
    )
)
# Values as a token or a hostile one may be: quotes, $(), backticks, newlines, unicode.
env_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=60
) | st.sampled_from(["'", "'\"'\"'", "$(touch /tmp/pwned)", "`id`", "a\nb", "\\", "$HOME", "!!"])


@settings(max_examples=size(30, 400), deadline=None)
@given(variables=st.dictionaries(env_names, env_values, min_size=1, max_size=3))
def test_envfmt_shell_round_trip_through_sh(variables):
    tally("protocol.envfmt.render(sh)")
    script = envfmt.render(variables, "env")
    names = list(variables)
    printer = "".join(f'printf "%s\\0" "${n}"\n' for n in names)
    out = subprocess.run(
        ["sh", "-c", script + printer],
        capture_output=True,
        timeout=10,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    got = out.stdout.decode("utf-8").split("\0")[:-1]
    assert got == list(variables.values())


@given(
    variables=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
    fmt=st.sampled_from([*envfmt.FORMATS, "xml"]),
)
def test_envfmt_render_refuses_bad_names(variables, fmt):
    tally("protocol.envfmt.render")
    try:
        out = envfmt.render(variables, fmt)
    except ValueError:
        return
    assert all(envfmt.ENV_NAME.match(n) for n in variables)
    if fmt == "json":
        assert json.loads(out) == variables


# -- the proxy's HTTP/1.1 reader ------------------------------------------------------

HTTP_PIECES = st.sampled_from(
    [
        b"GET / HTTP/1.1\r\n",
        b"POST /x HTTP/1.1\r\n",
        b"CONNECT a:443 HTTP/1.1\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"Host: a\r\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: -1\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"\r\n",
        b"3\r\nabc\r\n",
        b"0\r\n\r\n",
        b"ffffffffffffffffff\r\n",
        b"abc",
        b"\n",
        b" folded\r\n",
    ]
)


@given(
    pieces=st.lists(HTTP_PIECES | st.binary(max_size=40), max_size=12),
    response=st.booleans(),
    cut=st.integers(1, 50),
)
def test_wire_reader_any_bytes(pieces, response, cut):
    """Any byte stream, read in any pieces: events in message order, or ParseError."""
    from authsome.proxy.http_messages import END, Head, ParseError, Reader, Upgrade

    tally("proxy.http_messages.Reader")
    data = b"".join(pieces)
    reader = Reader(response, max_head=256, max_fields=8)
    try:
        for i in range(0, len(data), cut):
            reader.feed(data[i : i + cut])
        reader.closed()
    except ParseError as exc:
        assert exc.status in (400, 414, 431)
        return
    expect_head = True
    for event in reader.events:
        if isinstance(event, Upgrade):
            break
        if expect_head:
            assert isinstance(event, Head)
            expect_head = False
        elif event is END:
            expect_head = True
        else:
            assert isinstance(event, bytes)
