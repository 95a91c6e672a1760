"""Pure parts: the CA's certificates, routes and connection selection, child env, headers."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from cryptography import x509

from authsome.errors import NotFound, UsageError
from authsome.proxy.ca import CertAuthority, constraint_names, regex_suffix
from authsome.proxy.childenv import PLACEHOLDER, child_env, no_proxy
from authsome.proxy.http_rules import (
    HeaderRefused,
    basic_credential,
    proxy_authorized,
    set_header,
    split_authority,
    strip_hop_by_hop,
)
from authsome.proxy.routes import Route, RouteTable, select_connections


def _handshake(ca: CertAuthority, host: str, cafile) -> str | None:
    """TLS between a server using ca's leaf for `host` and a strict client; error or None."""
    a, b = socket.socketpair()
    server_ctx = ca.context_for(host)

    def serve():
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve)
    t.start()
    client = ssl.create_default_context(cafile=str(cafile))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    try:
        with client.wrap_socket(b, server_hostname=host) as c:
            c.send(b"x")
        return None
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message
    finally:
        a.close()
        t.join(5)


def test_ca_constraints_and_strict_verification(tmp_path):
    ca = CertAuthority(["api.example.test", ".googleapis.com"])
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(ca.cert_pem)
    nc = ca.cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert [n.value for n in nc.value.permitted_subtrees] == ["api.example.test", ".googleapis.com"]
    for ext in (x509.BasicConstraints, x509.KeyUsage):
        assert ca.cert.extensions.get_extension_for_class(ext).critical
    ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    leaf = ca.issue("api.example.test")
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert _handshake(ca, "api.example.test", cafile) is None
    assert _handshake(ca, "storage.googleapis.com", cafile) is None
    # The CA signs whatever it is asked, but a verifier refuses names outside the constraints.
    assert "subtree" in _handshake(ca, "evil.example.com", cafile)
    assert "subtree" in _handshake(ca, "example.test", cafile)
    assert "subtree" in _handshake(ca, "googleapis.com", cafile)


def test_regex_suffix():
    assert regex_suffix(r"[a-z0-9-]+\.googleapis\.com") == ".googleapis.com"
    assert regex_suffix(r"api\.x\.com") == "api.x.com"
    assert regex_suffix(r".*\.com") is None
    assert regex_suffix(r".*") is None
    assert constraint_names(["a.test/v1", "a.test", "regex:.*"]) == ["a.test"]


def test_routes():
    table = RouteTable(
        [
            Route("a", "default", ("api.a.test",)),
            Route("b", "work", ("api.b.test/v2", "regex:[a-z]+\\.b\\.test")),
            Route("c", "default", ("api.a.test",)),  # ties with a
        ]
    )
    assert table.match("api.a.test:443", "/x") is None  # ambiguous
    assert table.match("api.b.test:8443", "/v2/x?q=1") == ("b", "work")
    assert table.match("up.b.test", "/") == ("b", "work")
    assert table.intercepts("api.b.test:443") and table.intercepts("api.a.test:443")
    assert not table.intercepts("evil.test:443")
    assert sorted(table.names()) == [".b.test", "api.a.test", "api.b.test"]
    assert table.unbounded() == []
    loose = RouteTable([Route("d", "default", ("regex:^api[0-9]+\\.internal$", "api.d.test"))])
    assert loose.unbounded() == [("d", "regex:^api[0-9]+\\.internal$")]
    assert not loose.intercepts("api7.internal:443") and loose.intercepts("api.d.test:443")


def test_select_connections():
    stored = [
        ("a", "default", "connected"),
        ("a", "work", "connected"),
        ("b", "work", "connected"),
        ("c", "x", "connected"),
        ("c", "y", "connected"),
        ("d", "default", "expired"),
    ]
    chosen, warnings = select_connections(stored)
    assert chosen == [("a", "default"), ("b", "work")]
    assert len(warnings) == 1 and "c:" in warnings[0]
    assert select_connections(stored, only=["a"], picks={"a": "work"})[0] == [("a", "work")]
    assert select_connections(stored, picks={"c": "y"})[0][-1] == ("c", "y")
    with pytest.raises(NotFound):
        select_connections(stored, picks={"a": "nope"})
    with pytest.raises(NotFound):
        select_connections(stored, only=["d"])
    with pytest.raises(UsageError):
        select_connections(stored, only=["a"], picks={"b": "work"})


def test_child_env():
    base = {
        "PATH": "/bin",
        "AUTHSOME_MASTER_KEY": "k",
        "AUTHSOME_PASSPHRASE": "p",
        "no_proxy": "x.test, localhost",
    }
    env = child_env(base, "http://u:p@127.0.0.1:1", "/t/ca.pem", "/t/b.pem", ["X_TOKEN"])
    assert "AUTHSOME_MASTER_KEY" not in env and "AUTHSOME_PASSPHRASE" not in env
    assert env["NO_PROXY"] == "x.test,localhost,127.0.0.1,::1"
    assert env["X_TOKEN"] == PLACEHOLDER and env["PATH"] == "/bin"
    assert no_proxy(None) == "localhost,127.0.0.1,::1"


def test_headers():
    headers = [(b"authorization", b"Bearer placeholder"), (b"Authorization", b"dup"), (b"a", b"1")]
    assert set_header(headers, "Authorization", "Bearer t") == [
        (b"a", b"1"),
        (b"Authorization", b"Bearer t"),
    ]
    for bad in ("x\r\ny: 1", "x\n", "x\0"):
        with pytest.raises(HeaderRefused):
            set_header([], "Authorization", bad)
    hop = [(b"connection", b"close, x-hop"), (b"x-hop", b"1"), (b"proxy-authorization", b"s")]
    assert strip_hop_by_hop([*hop, (b"keep", b"1")]) == [(b"keep", b"1")]
    cred = basic_credential("u", "p")
    assert proxy_authorized([(b"proxy-authorization", cred)], cred)
    assert proxy_authorized([(b"proxy-authorization", b"basic " + cred[6:])], cred)
    assert not proxy_authorized([(b"proxy-authorization", b"Basic eDp5")], cred)
    assert not proxy_authorized([], cred)
    assert split_authority("[::1]:8443", 443) == ("::1", 8443)
    assert split_authority("API.test", 443) == ("api.test", 443)
    with pytest.raises(ValueError):
        split_authority("h:0", 443)


def test_set_query_param_replaces_every_placeholder_once():
    from authsome.proxy.querykey import set_query_param

    assert set_query_param(b"/search", "api_key", "k") == b"/search?api_key=k"
    assert set_query_param(b"/s?", "api_key", "k") == b"/s?api_key=k"
    # the child's placeholders (any spelling of the name) go; the others keep their bytes
    got = set_query_param(b"/s?a=1&api_key=x&api%5Fkey=y&&b=%2F", "api_key", "k y/&=")
    assert got == b"/s?a=1&b=%2F&api_key=k%20y%2F%26%3D"


def _own_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (SIOCGIFADDR per interface)."""
    import fcntl
    import struct

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                ifreq = fcntl.ioctl(s, 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on it
            address = socket.inet_ntoa(ifreq[20:24])
            if not address.startswith("127."):
                found.append(address)
    return found


def test_the_sandbox_guard_knows_this_machine_by_every_address():
    """What the proxy refuses to reach from --sandbox: loopback in every spelling, the
    unspecified address (Linux routes it to loopback), link-local (cloud metadata) and
    this machine's own interface addresses; a remote address is not refused."""
    from authsome.proxy.hostguard import HostGuard, ThisMachine, this_machine

    for ours in ["127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1",
                 "::127.0.0.1", "2002:7f00:1::1",  # IPv4-compatible, 6to4
                 "169.254.169.254", "fe80::1%1", *_own_addresses()]:  # fmt: skip
        assert this_machine(ours), ours
    for remote in ["203.0.113.7", "2001:db8::7", "::ffff:203.0.113.7"]:  # documentation nets
        assert not this_machine(remote), remote
    guard = HostGuard(frozenset({5432}), frozenset({("api.example.test", 8443)}))
    assert guard.lets("localhost", 5432) and guard.lets("API.example.test", 8443)
    assert not guard.lets("localhost", 6379)
    with pytest.raises(ThisMachine, match="--allow-host-port 6379"):
        guard.addresses("localhost", 6379)
    assert guard.addresses("203.0.113.7", 443)[0][4][0] == "203.0.113.7"
