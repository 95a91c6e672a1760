"""The helpers' side of the agent: hand this run to a warm agent, or return and run it here.

Called first by each helper's console script (`authsome.entrypoints`), so it keeps to `os`,
`sys` and `_socket` (the C half of `socket`). `delegate(entry)` either exits the process
with the agent's answer or returns having changed nothing, and the caller runs as if
there were no agent. Only read actions are routed; a request refused or failed before
the agent accepted it never ran there, and one lost after (the agent died) was a read,
safe to run again here.
"""

from __future__ import annotations

import _socket
import os
import sys

from authsome import __version__
from authsome.agent import wire
from authsome.entry_stdin import STDIN_MAX, read_json_input, read_lines

ENTRIES = {
    "helper": "authsome-helper",
    "git": "git-credential-authsome",
    "docker": "docker-credential-authsome",
    "cli": "authsome",
    "run": "authsome",  # `authsome run`: see authsome.agent.runs
}
CONNECT_TIMEOUT = 2.0  # connecting, sending and the agent's accept; a run has no limit
SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes with the NUL
HELPER_READ = ("get", "list", "version", "headers")  # actions that only read
CLI_READ = ("get", "list")  # `authsome` commands that read the vault and never stdin
# What the agent needs to start the same interpreter; secrets arrive per request only.
SPAWN_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TMPDIR", "VIRTUAL_ENV")
SPAWN_ENV_PREFIXES = ("LC_", "PYTHON", "AUTHSOME_AGENT", "AUTHSOME_HOME")
# What a run reads from its environment (authsome, the keyring and its D-Bus, libpq for
# a shared vault, httpx for a refresh, the terminal); docs/SECURITY.md lists them. The
# rest of the client's environment never leaves it.
RUN_ENV = frozenset(
    (
        b"HOME", b"USER", b"LOGNAME", b"PATH", b"TMPDIR", b"TZ",
        b"LANG", b"LANGUAGE", b"TERM", b"NO_COLOR", b"COLUMNS", b"LINES",
        b"DBUS_SESSION_BUS_ADDRESS", b"PYTHON_KEYRING_BACKEND", b"KUBERNETES_EXEC_INFO",
        b"SSL_CERT_FILE", b"SSL_CERT_DIR",
        b"HTTP_PROXY", b"HTTPS_PROXY", b"ALL_PROXY", b"NO_PROXY",
        b"http_proxy", b"https_proxy", b"all_proxy", b"no_proxy",
    )
)  # fmt: skip
RUN_ENV_PREFIXES = (b"AUTHSOME_", b"LC_", b"XDG_", b"PG", b"KEYRING_PROPERTY_")
VAULT_KEY_ENV = (b"AUTHSOME_MASTER_KEY", b"AUTHSOME_PASSPHRASE")
# `authsome run` also folds the user's own CA files into the child's trust bundle, and
# plans `--sandbox` from what hides the user's sockets and keeps the ssh agent's, and
# adds its Java trust store to the user's Java options.
RUN_ONLY_ENV = (b"REQUESTS_CA_BUNDLE", b"CURL_CA_BUNDLE", b"JAVA_TOOL_OPTIONS", b"WGETRC")
RUN_ONLY_ENV += (b"SSH_AUTH_SOCK", b"TMUX_TMPDIR", b"SCREENDIR", b"GNOME_KEYRING_CONTROL")


def enabled() -> bool:
    # Not inside `authsome run`: the agent would answer what the run refuses its child.
    return (
        os.environ.get("AUTHSOME_AGENT", "1") != "0"
        and not os.environ.get("AUTHSOME_RUN")
        and sys.platform.startswith("linux")
    )


def socket_path(home: str) -> str:
    return os.path.join(home, "agent", "agent.sock")


def fingerprint() -> bytes:
    """What must match between client and agent: same code, same interpreter."""
    import authsome

    parts = (
        __version__,
        os.path.dirname(os.path.abspath(authsome.__file__)),
        sys.prefix,
        sys.version,
        sys.getfilesystemencoding(),
    )
    return os.fsencode("\0".join(parts))


# -- which runs go to the agent, and what they read -------------------------------------
def _connection_args_ok(args: list[str], allow_positional: int) -> bool:
    """Only --connection options and at most `allow_positional` plain arguments.

    The entry points reject anything else before reading stdin; such runs stay here so
    that stdin is read exactly when the entry point would read it.
    """
    from authsome.errors import UsageError
    from authsome.protocol.argv import split_connection
    from authsome.records import valid_name

    try:
        connection, plain = split_connection(args)
    except UsageError:
        return False
    return len(plain) <= allow_positional and (connection is None or valid_name(connection))


def plan(entry: str, argv: list[str]) -> str | None:
    """How the entry point would read stdin for this argv ("helper", "lines", "all",
    "none"), or None when the run is not routed to the agent."""
    if entry == "helper" and argv:
        if argv[0] == "k8s":
            return "none"  # never reads stdin, whatever its arguments
        if argv[0] in HELPER_READ and _connection_args_ok(argv[1:], 1):
            return "helper"
    elif entry == "git" and argv and argv[-1] == "get":
        if _connection_args_ok(argv[:-1], 0):
            return "lines"
    elif entry == "cli" and argv and argv[0] in CLI_READ:
        # --help is laid out for the client's terminal width, which the agent lacks
        # (argparse also takes any prefix of --help).
        if not any(a.startswith(("-h", "--h")) for a in argv):
            return "none"
    elif entry == "docker" and len(argv) == 1:
        if argv[0] == "get":
            return "all"
        if argv[0] in ("list", "version", "--version", "-v"):
            return "none"
    return None


def read_stdin(kind: str) -> tuple[bytes, bool]:
    """(bytes, replayable): what the entry point would read, read the same way.

    The readers are the entry points' own (authsome.entry_stdin); docker reads it all.
    `replayable` is False when nothing was consumed (a terminal, no stdin).
    """
    stdin = sys.stdin
    if kind == "none" or stdin is None or stdin.closed:
        return b"", False
    if kind == "helper":
        try:
            if stdin.isatty():
                return b"", False
        except (OSError, ValueError):
            return b"", True
        return read_json_input(), True
    if kind == "all":
        return stdin.buffer.read(STDIN_MAX), True
    return read_lines(stdin.buffer), True  # "lines": up to a blank line or EOF, bounded


def _replay(data: bytes) -> None:
    """Put what we read back, for the in-process run to read the same bytes."""
    import io

    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding=old.encoding, errors=old.errors)


# -- talking to the agent ----------------------------------------------------------------
def private_dir(path: str) -> bool | None:
    """True if `path` is a real directory of ours that no one else may enter (0700);
    None if it does not exist; False otherwise (another user's, a symlink, too open)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return (st.st_mode & 0o170777) == 0o040700 and st.st_uid == os.getuid()


def peer_uid(sock) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    try:
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    except (OSError, AttributeError):
        return None
    return int.from_bytes(creds[4:8], sys.byteorder)  # struct ucred {pid, uid, gid}


def connect(home: str, spawn: bool = True):
    """A socket connected to our own agent, or None. Nothing is sent before both checks:
    the agent directory is ours and 0700, and the process listening runs as us (another
    user who created the home first could otherwise collect what a run carries). No
    agent there (and `spawn`): start one for next time."""
    path = socket_path(home)
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        return None
    ours = private_dir(os.path.dirname(path))
    if ours is False:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        if spawn and os.path.isdir(home):
            spawn_agent()
        return None
    except OSError:
        sock.close()
        return None
    if ours is None or peer_uid(sock) != os.getuid():
        sock.close()
        return None
    return sock


def spawn_agent() -> None:
    """Start `python -m authsome.agent` detached (double fork, own session, /dev/null)."""
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 1 << 16)
        env = {
            k: v
            for k, v in os.environ.items()
            if k in SPAWN_ENV or k.startswith(SPAWN_ENV_PREFIXES)
        }
        os.execve(sys.executable, [sys.executable, "-m", "authsome.agent"], env)  # noqa: S606
    finally:
        os._exit(127)


def _stream_info(stream) -> bytes:
    return os.fsencode(f"{stream.encoding}\0{stream.errors}")


def needs_vault_key(entry: str, argv: list[str]) -> bool:
    """False for the runs that never open the vault (`version`): they get no key."""
    if entry == "helper":
        return not argv or argv[0] != "version"
    if entry == "docker":
        return argv[:1] not in (["version"], ["--version"], ["-v"])
    return True


def run_env(entry: str, argv: list[str]) -> list[bytes]:
    """The variables this run reads (`RUN_ENV`), as NAME=VALUE; the vault key variables
    only when the run opens the vault."""
    with_key = needs_vault_key(entry, argv)
    return [
        k + b"=" + v
        for k, v in os.environb.items()
        if (
            k in RUN_ENV or k.startswith(RUN_ENV_PREFIXES) or (entry == "run" and k in RUN_ONLY_ENV)
        )
        and (with_key or k not in VAULT_KEY_ENV)
    ]


def request_fields(entry: str, argv: list[str], data: bytes) -> list[bytes]:
    umask = os.umask(0o077)
    os.umask(umask)
    env = run_env(entry, argv)
    return [
        wire.MAGIC,
        fingerprint(),
        entry.encode(),
        os.fsencode(os.getcwd()),
        str(umask).encode(),
        bytes((os.isatty(1), os.isatty(2))),
        _stream_info(sys.stdout),
        _stream_info(sys.stderr),
        data,
        wire.encode_fields([os.fsencode(a) for a in argv]),
        wire.encode_fields(env),
    ]


def exchange(sock, fields: list[bytes]) -> tuple[int, list[bytes]] | None:
    """(exit code, output chunks) from the agent, or None when it did not take the run."""
    sock.sendall(wire.frame(fields))
    if sock.recv(1) != wire.ACCEPTED:
        return None
    sock.settimeout(None)  # accepted: the run takes what it takes, as it would here
    reply = wire.read_frame(sock.recv)
    return int(reply[0]), wire.decode_fields(reply[1])


def write_chunks(chunks: list[bytes]) -> bool:
    """Each chunk is a 1-byte fd (1 or 2) and the bytes written there, in order."""
    for chunk in chunks:
        fd, view = chunk[0], memoryview(chunk)[1:]
        while view:
            try:
                n = os.write(fd, view)
            except BrokenPipeError:
                return False
            view = view[n:]
    return True


def control(home: str, command: str) -> dict[str, str] | None:
    """Ask a running agent for its `status` or to `stop`; None when none answers."""
    sock = connect(home, spawn=False)
    if sock is None:
        return None
    try:
        sock.sendall(wire.frame([wire.MAGIC, b"", command.encode()]))
        if sock.recv(1) != wire.ACCEPTED:
            return None
        return dict(os.fsdecode(f).split("=", 1) for f in wire.read_frame(sock.recv))
    except (OSError, ValueError):
        return None
    finally:
        sock.close()  # _socket.socket is no context manager


def delegate(entry: str) -> None:
    """Serve this process's run through the agent and exit, or return to run it here."""
    if not enabled() or sys.stdout is None or sys.stderr is None:
        return
    if os.path.basename(sys.argv[0]) != ENTRIES.get(entry):
        return  # imported by something else (tests, the agent itself): not a helper run
    argv = sys.argv[1:]
    try:
        kind = plan(entry, argv)
        if kind is None:
            return
        from authsome.paths import home

        sock = connect(home())
        if sock is None:
            return
    except Exception:  # why: any doubt: run in-process
        return
    data, replayable = b"", False
    try:
        data, replayable = read_stdin(kind)
        result = exchange(sock, request_fields(entry, argv, data))
    except Exception:  # why: refused, timed out, died: run in-process
        result = None
    finally:
        sock.close()
    if result is None:
        if replayable:
            _replay(data)
        return
    code, chunks = result
    sys.stdout.flush()
    ok = write_chunks(chunks)
    os._exit(code if ok else 1)
