"""A token outside Latin-1 already in the vault (stored before store-time checks) gets a
clear 502 from the proxy, not an internal error (issue #14 item 7)."""

from __future__ import annotations

from authsome.credentials import CredentialService
from authsome.records import CONNECTIONS, slot
from proxy.conftest import API_HOST, authsome_run, resolve_args


def test_a_stored_token_outside_latin1_is_a_clear_502(vault, upstream):
    service = CredentialService()
    record = service._read("testapi", "default")
    record["access_token"] = "tok-\u20ac-old"  # as an older version could have stored it
    service.vault.put(CONNECTIONS, slot("testapi", "default"), record)
    url = f"https://{API_HOST}:{upstream.port}/echo"
    res = authsome_run(
        *resolve_args(upstream.port),
        "--",
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        url,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "502"
    assert "outside Latin-1" in res.stderr and "internal error" not in res.stderr
    assert upstream.requests == []
