"""The per-run certificate authority: pure crypto, nothing on disk.

A fresh ECDSA P-256 CA per `authsome run`, name-constrained (critical NameConstraints)
to exactly the names the proxy intercepts, so that even a leaked CA key cannot vouch
for any other site. Certificates carry what strict verifiers (Python 3.13's
VERIFY_X509_STRICT, Go, rustls) insist on: critical BasicConstraints, KeyUsage,
SKI/AKI, SAN and the serverAuth EKU.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authsome.providers.matching import REGEX_PREFIX, split_entry

CA_LIFETIME = dt.timedelta(days=1)
LEAF_LIFETIME = dt.timedelta(days=1)
BACKDATE = dt.timedelta(minutes=5)  # tolerate a child whose clock is slightly behind

# A literal DNS suffix at the end of a regex: `\.googleapis\.com` in `[a-z-]+\.googleapis\.com`.
_LITERAL_TAIL = re.compile(r"((?:\\\.|[A-Za-z0-9-])+)\$?$")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _bare_host(host_port: str) -> str:
    host = host_port.lower().rstrip(".")
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def regex_suffix(pattern: str) -> str | None:
    """The literal domain suffix a host regex is confined to ('.googleapis.com'), if any.

    Name constraints cannot express a regex; a pattern whose tail is not at least two
    literal labels below a dot cannot be bounded and is left out of interception.
    """
    pattern = pattern.removeprefix("^").removesuffix("$")
    if re.fullmatch(r"(?:\\\.|[A-Za-z0-9-])+", pattern):
        return pattern.replace("\\.", ".").lower()  # fully literal: one exact host
    m = _LITERAL_TAIL.search(pattern)
    if not m:
        return None
    tail = m.group(1).replace("\\.", ".").lower()
    if not tail.startswith("."):
        tail = tail[tail.find(".") :] if "." in tail else ""
    labels = [p for p in tail.split(".") if p]
    if len(labels) < 2 or not all(labels):
        return None
    return tail


def constraint_names(api_urls: list[str]) -> list[str]:
    """The DNS names / IPs (a leading '.' means 'any subdomain') the CA may vouch for."""
    names: list[str] = []
    for entry in api_urls:
        if entry.startswith(REGEX_PREFIX):
            name = regex_suffix(entry[len(REGEX_PREFIX) :])
        else:
            name = _bare_host(split_entry(entry)[0])
        if name and name not in names:
            names.append(name)
    return names


def name_permitted(names: list[str], host: str) -> bool:
    """True if `host` falls inside the constraints `names` (same rules as the verifier)."""
    host = _bare_host(host)
    for name in names:
        if name.startswith("."):
            if host.endswith(name) and len(host) > len(name):
                return True
        elif host == name:
            return True
    return False


# Keys made ahead by a process that will serve exactly one run (the agent's spare run
# process): its first CertAuthority takes them, no other ever sees them.
_ahead: list[tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePrivateKey]] = []


def make_keys_ahead() -> None:
    """Make the next CertAuthority's two keys now, before its names are known."""
    _ahead.append(
        (ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))
    )


class CertAuthority:
    """One run's CA. `context_for(host)` gives a cached server SSLContext with a leaf."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        if _ahead:
            self._key, self._leaf_key = _ahead.pop()
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
            # One key for every leaf of this run: a leaf key protects nothing the CA key doesn't.
            self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.cert = self._make_ca()

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def permits(self, host: str) -> bool:
        return name_permitted(self.names, host)

    def _make_ca(self) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "authsome"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"authsome run CA {os.getpid()}"),
            ]
        )
        dns = [x509.DNSName(n) for n in self.names if _ip(n) is None]
        ips = [x509.IPAddress(_net(n)) for n in self.names if _ip(n) is not None]
        # No IP in the list: exclude every IP so the CA cannot vouch for one.
        excluded = (
            None
            if ips
            else [
                x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
                x509.IPAddress(ipaddress.ip_network("::/0")),
            ]
        )
        pub = self._key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
        )
        if dns or ips:
            builder = builder.add_extension(
                x509.NameConstraints(permitted_subtrees=dns + ips, excluded_subtrees=excluded),
                critical=True,
            )
        else:  # nothing to intercept: a CA that can vouch for no name at all
            builder = builder.add_extension(
                x509.NameConstraints(
                    permitted_subtrees=[x509.DNSName("invalid")], excluded_subtrees=excluded
                ),
                critical=True,
            )
        return builder.sign(self._key, hashes.SHA256())

    def issue(self, host: str) -> x509.Certificate:
        """A leaf for `host`. Signs whatever it is asked: the name constraints bound it."""
        host = _bare_host(host)
        now = dt.datetime.now(dt.UTC)
        pub = self._leaf_key.public_key()
        ip = _ip(host)
        san = x509.IPAddress(ip) if ip is not None else x509.DNSName(host)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + LEAF_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )

    def context_for(self, host: str) -> ssl.SSLContext:
        """The server-side TLS context presenting a leaf for `host` (cached for the run)."""
        host = _bare_host(host)
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                leaf = self.issue(host).public_bytes(serialization.Encoding.PEM)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_alpn_protocols(["http/1.1"])  # we speak HTTP/1.1 only, never h2
                load_chain_in_memory(ctx, leaf + self.cert_pem, self._leaf_key_pem)
                self._contexts[host] = ctx
            return ctx


def _net(host: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    ip = _ip(host)
    assert ip is not None
    return ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def load_chain_in_memory(ctx: ssl.SSLContext, chain_pem: bytes, key_pem: bytes) -> None:
    """`load_cert_chain` without a key file on disk.

    The ssl module only loads keys from paths, so the key goes through an anonymous
    memory file (Linux memfd) or, elsewhere, a FIFO fed from a thread: never a disk file.
    Certificates are public; they take the same road only for symmetry.
    """
    if hasattr(os, "memfd_create"):
        fds = [os.memfd_create("authsome-leaf", os.MFD_CLOEXEC) for _ in range(2)]
        try:
            os.write(fds[0], chain_pem)
            os.write(fds[1], key_pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
        finally:
            for fd in fds:
                os.close(fd)
        return
    import tempfile

    tmp = tempfile.mkdtemp(prefix="authsome-fifo-")
    paths = [os.path.join(tmp, "chain"), os.path.join(tmp, "key")]
    try:
        for path, data in zip(paths, (chain_pem, key_pem), strict=True):
            os.mkfifo(path, 0o600)
            threading.Thread(target=_feed, args=(path, data), daemon=True).start()
        ctx.load_cert_chain(paths[0], paths[1])  # each FIFO is opened exactly once
    finally:
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
        os.rmdir(tmp)


def _feed(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
