"""The sandbox's network (SPEC §6.11): its own network namespace with only loopback up,
on which the proxy's listening sockets are bound, and no other road out.

Unprivileged bwrap keeps no capabilities, so its child could neither bind port 443 nor
bring `lo` up. So the forked child does it before it becomes bwrap: it makes a user and
network namespace of its own (it is root there, with the capabilities that gives over
that namespace only), brings `lo` up, mounts a sysfs of the new namespace, binds the
listeners, hands them to `run` over a socketpair (SCM_RIGHTS), and execs bwrap, which
nests its own user namespace (mapped back to the user's ids, no capabilities) inside.
`run` keeps serving from the host's namespace: upstream connections leave from there.
"""

from __future__ import annotations

import _ctypes
import errno
import fcntl
import os
import socket
import struct
import subprocess
from collections import namedtuple
from collections.abc import Mapping, Sequence

from authsome.errors import UsageError
from authsome.procguard import libc_function, set_dumpable

from .outside import sockets

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 1 << 14, 1 << 18
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the union (40 bytes)
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219}.get(os.uname().machine)
KEYCTL_JOIN_SESSION_KEYRING = 1


# kind: "proxy" (HTTPS_PROXY), "direct" (TLS for API hosts), "relay" (--allow-host-port).
# (collections' namedtuple, not typing's: the agent's thin client imports this module.)
Listener = namedtuple("Listener", ["kind", "address", "port"])


class SandboxUnavailable(UsageError):
    """The sandbox cannot be made here: --sandbox stops before CMD starts (exit 2)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = _ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_namespaces(uid: int, gid: int, cover: Sequence[str] = ()) -> None:
    """Become root of a new user namespace (mapped to `uid`/`gid`) owning a new network
    and mount namespace; `lo` up; /sys showing this namespace's interfaces; /dev/null
    over each of the `cover` sockets that still exists (bwrap's `--bind / /` carries
    these mounts in, locked)."""
    unshare, mount = libc_function("unshare"), libc_function("mount")
    # /proc/self/uid_map belongs to root while we are non-dumpable (`run` is): a moment
    # of dumpability in this forked copy, which execs bwrap right after.
    set_dumpable(True)
    try:
        _check(unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS), "user namespace")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    finally:
        set_dumpable(False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack(IFREQ, fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0)))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))
    _check(mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")
    _check(mount(b"sysfs", b"/sys", b"sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "sysfs")
    for path in cover:
        failed = mount(b"/dev/null", os.fsencode(path), None, MS_BIND, None) != 0
        # Gone meanwhile, or behind a directory we cannot search from here (root's
        # reach over other users' files stays outside): bwrap's child cannot reach it.
        if failed and _ctypes.get_errno() not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
            _check(-1, f"covering {path}")
    # A new, empty session keyring: the kernel keys your session holds (Kerberos
    # tickets, cached passwords, keyctl-backed credential stores) stay outside. Where
    # keyctl fails (blocked by a container's seccomp), the child cannot use it either.
    if SYS_KEYCTL is not None:
        libc_function("syscall")(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)


def bind(listener: Listener) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((listener.address, listener.port))
    sock.listen(128)
    return sock


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    listeners: Sequence[Listener],
    cover: Sequence[str] = (),
    **popen,
) -> tuple[subprocess.Popen, list[socket.socket]]:
    """Start `argv` (bwrap ...) in a new network namespace, the `cover` sockets out of
    reach; returns it and the `listeners` bound inside, in order. Raises
    SandboxUnavailable if the namespace cannot be made (CMD has not started)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    uid, gid = os.getuid(), os.getgid()
    for name in ("unshare", "mount", "syscall"):
        libc_function(name)  # found here: the forked child only calls them

    def setup() -> None:  # in the forked child, before exec; nothing here may import
        try:
            enter_namespaces(uid, gid, cover)
            socks = [bind(listener) for listener in listeners]
            socket.send_fds(theirs, [b"ok"], [s.fileno() for s in socks])
        except BaseException as exc:  # reported to `run`, which says it once
            theirs.send(b"error:" + str(exc).encode(errors="replace"))
            os._exit(126)

    try:
        # Its own process group: a ^C from the terminal reaches `run`, which forwards it
        # to CMD; bwrap itself would die of it and take CMD down unwarned.
        child = subprocess.Popen(
            list(argv), env=dict(env), preexec_fn=setup, process_group=0, **popen
        )
    except OSError as exc:
        ours.close()
        raise SandboxUnavailable(f"--sandbox: cannot start {argv[0]}: {exc.strerror}") from None
    finally:
        theirs.close()
    try:
        message, fds, _, _ = socket.recv_fds(ours, 4096, max(1, len(listeners)))
    finally:
        ours.close()
    socks = [socket.socket(fileno=fd) for fd in fds]
    if message != b"ok" or len(socks) != len(listeners):
        child.wait()
        for s in socks:
            s.close()
        reason = message.decode(errors="replace").removeprefix("error:") or "no answer"
        raise SandboxUnavailable(
            f"--sandbox: cannot make the sandbox's namespaces ({reason}); "
            "unprivileged user namespaces must be enabled (sysctl "
            "kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), "
            "or run without --sandbox"
        )
    return child, socks


def spawn_covered(
    argv: Sequence[str], env: Mapping[str, str], listeners: Sequence[Listener], hidden_dirs
) -> tuple[subprocess.Popen, list[socket.socket]]:
    """`spawn`, with every path socket this process can connect to now covered, but the
    ssh agent's (kept) and those under `hidden_dirs` (bwrap covers them whole). Run by
    the process whose child CMD is: the cover is of what *it* can reach (its groups)."""
    cover = sockets(hidden_dirs, os.environ.get("SSH_AUTH_SOCK"))
    return spawn(argv, env, listeners, cover)


def sandboxed_pid(bwrap_pid: int) -> int:
    """The host pid of CMD inside bwrap (bwrap -> its init, pid 1 inside -> CMD), so that
    signals reach CMD and not bwrap, which dies of them. bwrap's pid until CMD exists."""
    pid = bwrap_pid
    for _ in range(2):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
        except OSError:
            return bwrap_pid
        if len(children) != 1:
            return bwrap_pid
        pid = int(children[0])
    return pid
