"""What else of the user's a sandboxed child must not reach (SPEC §6.11): unix sockets
by path, the directories of terminal multiplexers, the keyrings' own files.

The sandbox shares the file system, so it shares every path socket in it: tmux's
(`send-keys` types into a shell outside), screen's, ssh ControlMaster's, an editor's
server, gpg-agent's, a database's, systemd-resolved's (DNS out). And an unprivileged
user namespace cannot drop supplementary groups (the kernel keeps them so that a group
can still deny), so a socket reachable through a group (docker's: root) is reachable
inside too. So every path socket the user can connect to when the run starts is
covered, whoever owns it, apart from $SSH_AUTH_SOCK (kept: `git push` over ssh; the
keys in ~/.ssh are readable inside anyway). Left reachable: a socket bound after the
start outside the covered directories, FIFOs (docs/SECURITY.md).
"""

from __future__ import annotations

import os
import stat

# (No collections.abc in the annotations: the agent's thin `run` client imports this.)

PROC_NET_UNIX = "/proc/net/unix"  # the host namespace's: `run` reads it before the fork


def listed(text: str) -> list[str]:
    """The path sockets in /proc/net/unix (abstract ones, `@...`, belong to the network
    namespace and are gone inside already)."""
    paths = []
    for line in text.splitlines()[1:]:
        fields = line.split(None, 7)  # Num RefCount Protocol Flags Type St Inode Path
        if len(fields) == 8 and fields[7].startswith("/"):
            paths.append(fields[7])
    return list(dict.fromkeys(paths))


def connectable(paths: list[str]) -> dict[str, tuple[int, int]]:
    """Those of `paths` that are sockets this process may connect to (write permission,
    through its uid or any of its groups), with their (device, inode)."""
    found = {}
    for path in paths:
        try:
            st = os.stat(path)
            if stat.S_ISSOCK(st.st_mode) and os.access(path, os.W_OK):
                found[path] = (st.st_dev, st.st_ino)
        except OSError:
            continue  # gone, or behind a directory we cannot search: out of reach anyway
    return found


def private_dirs(env: dict[str, str] | os._Environ, uid: int, user: str) -> list[str]:
    """Directories holding the user's sockets and secrets, to cover whole (they need
    not exist; the caller keeps those that do)."""
    home = env.get("HOME") or os.path.expanduser("~")
    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    tmux = os.path.join(env.get("TMUX_TMPDIR") or "/tmp", f"tmux-{uid}")  # noqa: S108
    try:  # made as tmux makes it, so that a server started later lands under the cover
        os.mkdir(tmux, 0o700)
    except OSError:
        pass
    return [
        tmux,
        f"/run/user/{uid}",  # the runtime dir, also where $XDG_RUNTIME_DIR is not set
        *filter(None, [env.get("SCREENDIR")]),
        f"/run/screen/S-{user}", f"/var/run/screen/S-{user}", f"/tmp/screens/S-{user}",  # noqa: S108
        os.path.join(data, "keyrings"),  # gnome-keyring's files: the login password guards them
        os.path.join(data, "kwalletd"),
        os.path.join(data, "python_keyring"),  # keyrings.alt's files
    ]  # fmt: skip


def sockets(hidden_dirs: list[str] | tuple[str, ...], ssh_agent: str | None) -> list[str]:
    """Every path socket this process could connect to now, but the ssh agent's and
    those in `hidden_dirs` (covered whole already)."""
    try:
        with open(PROC_NET_UNIX) as f:
            text = f.read()
    except OSError:
        return []
    try:
        st = os.stat(ssh_agent) if ssh_agent else None
        spare = (st.st_dev, st.st_ino) if st else None
    except OSError:
        spare = None
    return [
        path
        for path, inode in connectable(listed(text)).items()
        if inode != spare and not any(os.path.commonpath([path, d]) == d for d in hidden_dirs)
    ]
