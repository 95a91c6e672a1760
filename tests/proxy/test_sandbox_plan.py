"""The sandbox's plan as pure functions: what is hidden, what is kept, the bwrap list."""

from __future__ import annotations

import os

from authsome.proxy.sandbox import Sandbox, bwrap_args, hidden, hosts_file, listeners


def test_hidden_covers_homes_runtime_dir_and_bus_and_keeps_the_ssh_agent(tmp_path):
    home, runtime = tmp_path / "home", tmp_path / "run"
    for d in (home / ".authsome", home / "vault", runtime / "keyring", runtime / "systemd"):
        d.mkdir(parents=True)
    (runtime / "ssh-agent.socket").touch()
    (tmp_path / "bus").touch()
    env = {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "GNOME_KEYRING_CONTROL": str(runtime / "keyring"),  # inside: not hidden twice
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'bus'};unix:abstract=/tmp/x",
        "SSH_AUTH_SOCK": str(runtime / "ssh-agent.socket"),
    }
    dirs, files, keep = hidden(env, str(home / "vault"))
    assert {str(home / "vault"), str(home / ".authsome"), str(runtime)} <= set(dirs)
    assert str(runtime / "keyring") not in dirs
    assert str(tmp_path / "bus") in files
    assert keep == (str(runtime / "ssh-agent.socket"),)
    assert all(os.path.exists(p) for p in (*dirs, *files))  # no mount point made up


def test_bwrap_args_keep_the_order_that_makes_the_boundary():
    box = Sandbox(1000, 1000, ("/h/.authsome",), ("/tmp/bus",), ("/run/u/ssh",), "/tmp/r/hosts")
    args = bwrap_args("/usr/bin/bwrap", box, ["sh", "-c", "x"])
    assert args[:1] == ["/usr/bin/bwrap"] and args[-4:] == ["--", "sh", "-c", "x"]
    assert args[args.index("--cap-drop") + 1] == "ALL"
    for flag in ("--unshare-user", "--disable-userns", "--unshare-pid", "--die-with-parent",
                 "--new-session"):  # fmt: skip
        assert flag in args
    assert "--unshare-net" not in args  # the network namespace is made before bwrap
    at = args.index
    assert at("--bind") < at("--tmpfs") < at("/tmp/bus") < at("/run/u/ssh") < at("/etc/hosts")
    assert args[at("--uid") + 1] == "1000" and args[at("--gid") + 1] == "1000"


def test_hosts_file_and_listeners():
    text = hosts_file("127.0.0.1 localhost\n", ["api.example.test"])
    assert text.startswith("127.0.0.1 localhost\n") and "127.0.0.2 api.example.test\n" in text
    got, proxy_port = listeners([8443], [3128, 5432])
    assert proxy_port == 3129  # 3128 is relayed
    assert [(x.kind, x.address, x.port) for x in got] == [
        ("proxy", "127.0.0.1", 3129),
        ("direct", "127.0.0.2", 443),
        ("direct", "127.0.0.2", 8443),
        ("relay", "127.0.0.1", 3128),
        ("relay", "127.0.0.1", 5432),
    ]


def test_outside_lists_path_sockets_and_makes_tmux_dir_as_tmux_would(tmp_path):
    from authsome.proxy.outside import connectable, listed, private_dirs

    text = (
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000: 00000002 00000000 00010000 0001 01 1001 /tmp/tmux-1000/default\n"
        "0000: 00000002 00000000 00010000 0001 01 1002 @/tmp/.X11-unix/X0\n"
        "0000: 00000003 00000000 00000000 0001 03 1003\n"
        "0000: 00000002 00000000 00010000 0001 01 1004 /run/a socket with spaces\n"
        "0000: 00000003 00000000 00000000 0001 03 1005 /tmp/tmux-1000/default\n"
    )
    assert listed(text) == ["/tmp/tmux-1000/default", "/run/a socket with spaces"]
    (tmp_path / "file").touch()
    assert connectable([str(tmp_path / "file"), str(tmp_path / "gone")]) == {}  # not sockets
    dirs = private_dirs({"HOME": str(tmp_path), "TMUX_TMPDIR": str(tmp_path)}, 4242, "u")
    tmux = tmp_path / "tmux-4242"
    assert str(tmux) in dirs and tmux.is_dir() and tmux.stat().st_mode & 0o777 == 0o700
    assert str(tmp_path / ".local" / "share" / "keyrings") in dirs and "/run/user/4242" in dirs
