"""The child's trust bundle: the system's roots once, the user's own CA files, our CA."""

from __future__ import annotations

import os

import pytest

from authsome.proxy.runner import system_roots_file, write_trust

CA = b"-----BEGIN CERTIFICATE-----\nOURS\n-----END CERTIFICATE-----\n"
USERS = b"-----BEGIN CERTIFICATE-----\nTHEIRS\n-----END CERTIFICATE-----\n"


@pytest.fixture
def roots() -> bytes:
    path = system_roots_file()
    if path is None:
        pytest.skip("this system keeps no PEM bundle of roots")
    with open(path, "rb") as f:
        return f.read()


def test_the_system_bundle_named_by_the_user_is_not_added_twice(tmp_path, roots):
    """Many images set SSL_CERT_FILE to the system bundle itself (through a symlink, as
    Debian's /usr/lib/ssl/cert.pem is): one copy of the roots, not two."""
    link = tmp_path / "link.pem"
    link.symlink_to(system_roots_file())
    own = tmp_path / "own.pem"
    own.write_bytes(USERS)
    out = tmp_path / "run"
    out.mkdir()
    env = {"SSL_CERT_FILE": str(link), "REQUESTS_CA_BUNDLE": str(own)}
    ca_path, bundle_path = write_trust(str(out), CA, env)
    with open(bundle_path, "rb") as f:
        bundle = f.read()
    first = roots.strip().split(b"\n", 2)[1]  # a line of the first root's base64
    assert bundle.count(first) == 1
    assert bundle.count(b"BEGIN CERTIFICATE") == roots.count(b"BEGIN CERTIFICATE") + 2
    assert b"THEIRS" in bundle and bundle.strip().endswith(CA.strip())
    with open(ca_path, "rb") as f:
        assert f.read() == CA
    assert {oct(os.stat(p).st_mode & 0o777) for p in (ca_path, bundle_path)} == {"0o600"}
