"""Starting CMD in the sandbox (SPEC §6.11): the files it gets (a hosts file pointing
the API hosts at the proxy, a Java trust store), its environment, the listeners bound
in its network namespace and handed to the proxy. The boundary itself is sandbox.py.

Planned (`plan_sandboxed`) where the run's proxy lives, started (`netns.spawn_covered`)
by the process whose child CMD is: the same one in-process; the thin client of the warm
agent otherwise (authsome.agent.runs), which is sent the plan and passes the listeners
back."""

from __future__ import annotations

import os
import pwd
import shutil
from typing import NamedTuple

from authsome import paths
from authsome.protocol.urls import is_ip_address

from . import outside, sandbox
from .childenv import child_env
from .foreground import cannot_start
from .http_rules import authority
from .netns import Listener, spawn_covered


class Plan(NamedTuple):
    """A sandboxed child, ready to start: bwrap's argv, its environment, the listeners
    to bind in its network namespace (the proxy's first) and the directories it covers
    whole (`netns.spawn_covered` covers every other socket the user can reach)."""

    argv: list[str]
    env: dict[str, str]
    listeners: list[Listener]
    hidden_dirs: tuple[str, ...]


def plan_sandboxed(command, routes, resolve, options, tmp, url, trust) -> Plan:
    """Everything before the namespace: the files the child gets (hosts file, Java
    trust store) written to `tmp`, its environment, bwrap's argv. `url` is the proxy URL
    with a {port} to fill. Raises SandboxUnavailable (no bwrap) before CMD starts."""

    bwrap = sandbox.find_bwrap()
    intercepted = [(h, p) for (h, p) in resolve if routes.intercepts(authority(h, p))]
    listeners, proxy_port = sandbox.listeners((p for _, p in intercepted), options.allow_host_ports)
    names = [n for n in routes.names() if not n.startswith(".") and not is_ip_address(n)]
    names += [h for h, _ in intercepted if h not in names and not is_ip_address(h)]
    hosts_path = os.path.join(tmp, "hosts")
    try:
        with open("/etc/hosts") as f:
            real_hosts = f.read()
    except OSError:
        real_hosts = "127.0.0.1 localhost\n::1 localhost\n"
    paths.write_new(hosts_path, [sandbox.hosts_file(real_hosts, names).encode()], 0o644)
    ca_path, bundle_path, managed_vars, wgetrc = trust
    proxy_url = url.format(port=proxy_port)
    env = child_env(os.environ, proxy_url, ca_path, bundle_path, managed_vars, wgetrc)
    for name in sandbox.UNSET:
        env.pop(name, None)
    # Java ignores the proxy variables: it reaches the API hosts through the direct
    # listener, and needs the run's CA for that (its only road out in the sandbox).
    store = os.path.join(tmp, "java-truststore.p12")
    paths.write_new(store, [java_truststore(ca_path)], 0o644)
    java = f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStoreType=PKCS12"
    env["JAVA_TOOL_OPTIONS"] = " ".join(filter(None, [env.get("JAVA_TOOL_OPTIONS"), java]))
    more_dirs = outside.private_dirs(os.environ, os.getuid(), pwd.getpwuid(os.getuid()).pw_name)
    dirs, files, keep = sandbox.hidden(os.environ, paths.home(), more_dirs)
    box = sandbox.Sandbox(os.getuid(), os.getgid(), dirs, files, keep, hosts_path)
    return Plan(sandbox.bwrap_args(bwrap, box, command), env, listeners, dirs)


def serve_on(proxy, socks, listeners) -> None:
    """Hand `proxy` the sockets bound in the sandbox's namespace for `listeners`."""
    extra = [(sock, lst.kind, lst.port) for sock, lst in zip(socks[1:], listeners[1:], strict=True)]
    proxy.listen(socks[0], extra)


def start_sandboxed(plan: Plan, proxy):
    """bwrap with CMD in the sandbox's namespaces; `proxy` gets the listeners bound
    there. Raises SandboxUnavailable before CMD starts."""
    import socket

    child, socks = spawn_covered(plan.argv, plan.env, plan.listeners, plan.hidden_dirs)
    serve_on(proxy, [socket.socket(fileno=s.detach()) for s in socks], plan.listeners)
    return child


def runnable(name: str) -> int | None:
    """127 or 126 as a shell would give, before the sandbox starts (bwrap says 1)."""
    path = shutil.which(name) if os.sep not in name else name
    if path is None or not os.path.exists(path):
        return cannot_start(name, found=False)
    if not os.access(path, os.X_OK) or os.path.isdir(path):
        return cannot_start(name, found=True)
    return None


def java_truststore(ca_path: str) -> bytes:
    """A password-less PKCS12 trust store holding the run's CA (Java 11.0.12+ reads it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

    with open(ca_path, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    entry = pkcs12.PKCS12Certificate(ca, b"authsome-run")
    return pkcs12.serialize_java_truststore([entry], NoEncryption())
