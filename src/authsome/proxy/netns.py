"""The sandbox's network (SPEC §6.11): its own network namespace with only loopback up,
on which the proxy's listening sockets are bound, and no other road out.

Unprivileged bwrap keeps no capabilities, so its child could neither bind port 443 nor
bring `lo` up. So the forked child does it before it becomes bwrap: it makes a user and
network namespace of its own (it is root there, with the capabilities that gives over
that namespace only), brings `lo` up, mounts a sysfs of the new namespace, binds the
listeners, hands them to `run` over a socketpair (SCM_RIGHTS), and execs bwrap, which
nests its own user namespace (mapped back to the user's ids, no capabilities) inside.
`run` keeps serving from the host's namespace: upstream connections leave from there.

Import-light (os, _socket, _signal, _ctypes, fcntl, struct; no socket, subprocess or
ctypes): the warm agent's thin `run` client starts the sandbox itself.
"""

from __future__ import annotations

import _ctypes
import _signal
import _socket
import errno
import fcntl
import os
import struct
import sys

from authsome.errors import UsageError
from authsome.procguard import libc_function, set_dumpable

from .foreground import RESTORED, close_inherited_fds
from .outside import sockets

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 1 << 14, 1 << 18
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the union (40 bytes)
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219}.get(os.uname().machine)
KEYCTL_JOIN_SESSION_KEYRING = 1
MSG_CMSG_CLOEXEC = getattr(_socket, "MSG_CMSG_CLOEXEC", 0x40000000)


class Listener(tuple):
    """(kind, address, port); kind: "proxy" (HTTPS_PROXY), "direct" (TLS for the API
    hosts), "relay" (--allow-host-port). A plain tuple: no typing or collections here."""

    __slots__ = ()

    def __new__(cls, kind: str, address: str, port: int) -> Listener:
        return tuple.__new__(cls, (kind, address, port))

    kind = property(lambda self: self[0])
    address = property(lambda self: self[1])
    port = property(lambda self: self[2])

    def __repr__(self) -> str:
        return f"Listener{tuple(self)!r}"


class Child:
    """bwrap, our child: the little of a Popen its callers use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def wait(self) -> int:
        """Its exit code; -N if a signal N ended it (as Popen)."""
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)  # retried after a signal (PEP 475)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


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


def enter_namespaces(uid: int, gid: int, cover: list[str] | tuple[str, ...] = ()) -> None:
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
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifreq = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0))
        flags = struct.unpack(IFREQ, ifreq)[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))
    finally:
        s.close()
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


def bind(listener: Listener) -> _socket.socket:
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    sock.bind((listener.address, listener.port))
    sock.listen(128)
    return sock


def send_fds(sock, data: bytes, fds: list[int]) -> None:
    """`data` with the descriptors `fds` (SCM_RIGHTS): socket.send_fds, without socket."""
    ints = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, ints)] if fds else [])


def recv_fds(sock, size: int, most: int) -> tuple[bytes, list[int]]:
    """Up to `size` bytes and up to `most` descriptors sent with them (close-on-exec)."""
    data, ancillary, _, _ = sock.recvmsg(size, _socket.CMSG_LEN(4 * most), MSG_CMSG_CLOEXEC)
    fds = []
    for level, kind, ints in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += [
                int.from_bytes(ints[i : i + 4], sys.byteorder, signed=True)
                for i in range(0, len(ints) - len(ints) % 4, 4)
            ]
    return data, fds


def spawn(
    argv: list[str],
    env: dict,
    listeners: list[Listener],
    cover: list[str] | tuple[str, ...] = (),
    stderr: int | None = None,
) -> tuple[Child, list[_socket.socket]]:
    """Start `argv` (bwrap ..., its path in full) in a new network namespace, the `cover`
    sockets out of reach, in a process group of its own (a ^C from the terminal reaches
    `run`, which forwards it to CMD: bwrap itself would die of it and take CMD down
    unwarned); `stderr`: a descriptor for its fd 2. Returns it and the `listeners` bound
    inside, in order. Raises SandboxUnavailable if the namespace cannot be made or bwrap
    cannot start (CMD has not started)."""
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    uid, gid = os.getuid(), os.getgid()
    for name in ("unshare", "mount", "syscall"):
        libc_function(name)  # found here: the forked child only calls them
    try:
        pid = os.fork()
    except OSError as exc:
        ours.close()
        theirs.close()
        raise SandboxUnavailable(f"--sandbox: cannot start {argv[0]}: {exc.strerror}") from None
    if pid == 0:  # nothing from here on may import: only what is loaded runs
        try:
            ours.close()
            _become_bwrap(argv, env, listeners, cover, uid, gid, theirs, stderr)
        finally:
            os._exit(127)
    theirs.close()
    child = Child(pid)
    try:
        message, fds = recv_fds(ours, 4096, max(1, len(listeners)))
        # Its end is close-on-exec: nothing more (b"") once bwrap runs, else why not.
        failed = ours.recv(4096) if message == b"ok" else b""
    finally:
        ours.close()
    socks = [_socket.socket(fileno=fd) for fd in fds]
    if message != b"ok" or failed or len(socks) != len(listeners):
        child.wait()
        for s in socks:
            s.close()
        if failed:
            why = failed.decode(errors="replace")
            raise SandboxUnavailable(f"--sandbox: cannot start {argv[0]}: {why}")
        reason = message.decode(errors="replace").removeprefix("error:") or "no answer"
        raise SandboxUnavailable(
            f"--sandbox: cannot make the sandbox's namespaces ({reason}); "
            "unprivileged user namespaces must be enabled (sysctl "
            "kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), "
            "or run without --sandbox"
        )
    return child, socks


def _become_bwrap(argv, env, listeners, cover, uid, gid, theirs, stderr) -> None:
    """In the forked child: its own process group, the signals a child starts with, no
    inherited descriptors; the namespaces made, the listeners bound and sent; exec."""
    os.setpgid(0, 0)
    for signum in (*RESTORED, _signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(signum, _signal.SIG_DFL)
    if stderr is not None:
        os.dup2(stderr, 2)
    close_inherited_fds()
    try:
        enter_namespaces(uid, gid, cover)
        socks = [bind(listener) for listener in listeners]
        send_fds(theirs, b"ok", [s.fileno() for s in socks])
    except BaseException as exc:  # reported to `run`, which says it once
        theirs.send(b"error:" + str(exc).encode(errors="replace"))
        os._exit(126)
    for s in socks:
        s.close()
    try:
        os.execve(argv[0], argv, env)  # noqa: S606 -- bwrap, by its full path
    except OSError as exc:
        theirs.send((exc.strerror or "exec failed").encode(errors="replace"))


def spawn_covered(
    argv: list[str], env: dict, listeners: list[Listener], hidden_dirs
) -> tuple[Child, list[_socket.socket]]:
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
