"""`authsome run --sandbox` (SPEC §6.11): what CMD sees, as one short list of binds.

Read `bwrap_args` to audit the boundary. The network side (a namespace with only
loopback, the proxy's sockets inside it) is netns.py; what is hidden is decided here from
the environment, purely.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from .netns import Listener, SandboxUnavailable, spawn

DIRECT_ADDRESS = "127.0.0.2"  # where the API hosts resolve inside; the proxy takes TLS there
PROXY_PORTS = range(3128, 3200)  # HTTPS_PROXY inside: the first not taken by a relay
# Variables that would point the child at what it must not reach (bus, keyring, agent).
UNSET = ("DBUS_SESSION_BUS_ADDRESS", "GNOME_KEYRING_CONTROL", "DISPLAY", "XAUTHORITY")
UNSET += ("WAYLAND_DISPLAY",)
# Roads out of any sandbox that shares the file system: X11 lets a client type into the
# user's terminal; the system bus reaches services that act for the user's session.
SYSTEM_DIRS = ("/tmp/.X11-unix",)  # noqa: S108 - X11 sockets live there by convention
SYSTEM_FILES = ("/run/dbus/system_bus_socket",)
BWRAP_FIX = (
    "--sandbox needs bubblewrap: install it (apt install bubblewrap, dnf install "
    "bubblewrap), or run without --sandbox"
)


class Sandbox(NamedTuple):
    uid: int
    gid: int
    hide_dirs: tuple[str, ...]  # an empty tmpfs over each
    hide_files: tuple[str, ...]  # /dev/null over each (sockets, single files)
    keep: tuple[str, ...]  # bound back inside a hidden directory (the ssh agent's socket)
    hosts: str  # the generated hosts file, bound over /etc/hosts


def bwrap_args(bwrap: str, box: Sandbox, command: Sequence[str]) -> list[str]:
    """The whole file-system and process boundary, in order."""
    args = [
        bwrap,
        "--unshare-user", "--uid", str(box.uid), "--gid", str(box.gid),
        "--cap-drop", "ALL",  # no capabilities, even for root (uid 0 keeps them otherwise)
        "--disable-userns",  # ...and no nested namespace to regain them in
        "--unshare-pid", "--unshare-ipc",  # sees its own processes only
        "--die-with-parent",  # never outlives `run` (and its proxy)
        "--new-session",  # no controlling terminal: TIOCSTI cannot type into the user's
        "--bind", "/", "/",  # the file system as the user sees it, except:
        "--proc", "/proc",  # this PID namespace's /proc: no environ/mem of the proxy
        "--dev", "/dev",
    ]  # fmt: skip
    for path in box.hide_dirs:  # authsome's homes (vault, key file, agent), $XDG_RUNTIME_DIR
        args += ["--tmpfs", path]  # (session bus, keyring, systemd --user, ...), X11
    for path in box.hide_files:  # the session bus (outside the runtime dir), the system bus
        args += ["--ro-bind", "/dev/null", path]
    for path in box.keep:  # $SSH_AUTH_SOCK: ssh and git over ssh keep working
        args += ["--bind", path, path]
    args += ["--ro-bind", box.hosts, "/etc/hosts"]  # API hosts -> DIRECT_ADDRESS
    return [*args, "--", *command]


def hidden(
    env: Mapping[str, str], authsome_home: str, more_dirs: Iterable[str] = ()
) -> tuple[tuple[str, ...], ...]:
    """(directories, files, kept) for `Sandbox`: what exists of what is hidden (bwrap
    would create a missing mount point on the real file system), nothing hidden twice.
    `more_dirs`: the user's other private directories (outside.py)."""
    home = env.get("HOME") or os.path.expanduser("~")
    dirs = [authsome_home, os.path.join(home, ".authsome"), *SYSTEM_DIRS, *more_dirs]
    files = [*SYSTEM_FILES]
    for name in ("XDG_RUNTIME_DIR", "GNOME_KEYRING_CONTROL"):
        if env.get(name):
            dirs.append(env[name])  # the session bus, keyring, systemd --user sockets
    for part in env.get("DBUS_SESSION_BUS_ADDRESS", "").split(";"):
        for item in part.partition(":")[2].split(","):
            key, _, value = item.partition("=")
            if key == "path":
                files.append(value)  # (abstract sockets are per network namespace: gone)
    real_dirs = sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)}, key=len)
    top: list[str] = []
    for d in real_dirs:
        if not any(_under(d, t) for t in top):
            top.append(d)
    real_files = {os.path.realpath(f) for f in files if os.path.exists(f)}
    keep = []
    agent = env.get("SSH_AUTH_SOCK")
    if agent and os.path.exists(agent) and any(_under(os.path.realpath(agent), t) for t in top):
        keep.append(os.path.realpath(agent))
    return (
        tuple(top),
        tuple(sorted(f for f in real_files if not any(_under(f, t) for t in top))),
        tuple(keep),
    )


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def hosts_file(real: str, names: Iterable[str]) -> str:
    """The system's hosts file with each intercepted API host pointed at the proxy."""
    lines = [real.rstrip("\n"), "# authsome run --sandbox: API hosts go to the run's proxy"]
    lines += [f"{DIRECT_ADDRESS} {name}" for name in names]
    return "\n".join(lines) + "\n"


def listeners(
    direct_ports: Iterable[int], relay_ports: Iterable[int]
) -> tuple[list[Listener], int]:
    """The sockets the sandbox's namespace gets, and the proxy's port among them."""
    relays = sorted(set(relay_ports))
    proxy_port = next(p for p in PROXY_PORTS if p not in relays)
    out = [Listener("proxy", "127.0.0.1", proxy_port)]
    out += [Listener("direct", DIRECT_ADDRESS, p) for p in sorted({443, *direct_ports})]
    out += [Listener("relay", "127.0.0.1", p) for p in relays]
    return out, proxy_port


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(BWRAP_FIX)
    return path


def check() -> str | None:
    """None if `run --sandbox` works here, else why and the fix: a real trial (`true`
    in the same namespaces and binds, without the home hidden), for `authsome doctor`."""
    try:
        bwrap = find_bwrap()
    except SandboxUnavailable as exc:
        return str(exc)
    box = Sandbox(os.getuid(), os.getgid(), (), (), (), "/etc/hosts")
    env = {"PATH": os.environ.get("PATH") or "/usr/bin:/bin"}
    errors, stderr = os.pipe()
    try:
        child, _ = spawn(bwrap_args(bwrap, box, ["true"]), env, [], stderr=stderr)
    except SandboxUnavailable as exc:
        os.close(errors)
        return str(exc)
    finally:
        os.close(stderr)
    with open(errors, "rb") as f:
        err = f.read()  # to its end: bwrap and `true` are done
    if child.wait() != 0:
        said = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return f"bubblewrap could not make the sandbox ({said[0]})"
    return None
