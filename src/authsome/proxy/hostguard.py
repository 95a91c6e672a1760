"""Under --sandbox (SPEC §6.11) the proxy is the child's one road out, and it leaves
from the host's network namespace: a CONNECT to 127.0.0.1:5432, an http:// request to
localhost, or either to this machine's own LAN address would reach the host's own
services, which the sandbox's network exists to keep out. So for unmatched tunnels and
http:// requests the proxy resolves the name itself, drops every address of this
machine (unless the user opened the port with --allow-host-port, or named that
host:port with --resolve) and connects to an address it checked: a name that resolves
elsewhere the second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import NamedTuple


class HostGuard(NamedTuple):
    allowed_ports: frozenset[int]  # --allow-host-port: the user opened these
    named: frozenset[tuple[str, int]]  # --resolve HOST:PORT: the user sent these there

    def lets(self, host: str, port: int) -> bool:
        """True if host:port may go anywhere, this machine included."""
        return port in self.allowed_ports or (host.lower(), port) in self.named

    def addresses(self, host: str, port: int) -> list[tuple]:
        """getaddrinfo's answers for host:port that are not this machine; raises
        ThisMachine if that leaves none (OSError if the name does not resolve)."""
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        kept = [info for info in found if not this_machine(info[4][0])]
        if not kept:
            raise ThisMachine(
                f"{host}:{port} is this machine, out of the sandbox's reach "
                f"(--allow-host-port {port} opens it)"
            )
        return kept


class ThisMachine(OSError):
    """The address is the host's own: refused under --sandbox (403)."""


def this_machine(address: str) -> bool:
    """True for an address that reaches this machine (or one next to it with no
    router between: link-local, where cloud metadata services answer)."""
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside (mapped, compatible ::a.b.c.d, 6to4) may be routed to
        # it where the machine has such a route or tunnel: judge the IPv4 one.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and int(ip) >> 32 == 0 and int(ip) > 1:
            inner = ipaddress.IPv4Address(int(ip))
        if inner is not None and this_machine(str(inner)):
            return True
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast:
        return True
    # Any address of our interfaces: binding to it works only if it is ours (fails
    # closed where net.ipv4.ip_nonlocal_bind lets any bind succeed). Nothing is sent.
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
    return True
