"""A Secret Service of one test's own: a private D-Bus session with gnome-keyring in it.

scripts/test gives the whole run one unlocked gnome-keyring. A test that locks or
restarts it would pull the keyring from under every other test running at the same
time (pytest-xdist workers share it); such a test uses this one instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

# A session bus without service directories: nothing is started on demand. (The stock
# session config would start a second, locked gnome-keyring whenever ours is down.)
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateSecretService:
    """`env` points D-Bus clients (secretstorage, our subprocesses) at this keyring."""

    def __init__(self, root: Path, password: str):
        self.root = root
        self.password = password
        self.env: dict[str, str] = {}
        self._bus: subprocess.Popen | None = None
        self._keyring: subprocess.Popen | None = None
        self._runtime: Path | None = None

    @staticmethod
    def available() -> str | None:
        """None when the tools are here, else what is missing."""
        missing = [t for t in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(t)]
        return " and ".join(missing) + " not installed" if missing else None

    def start(self) -> PrivateSecretService:
        # A short directory: a unix socket path must fit in 108 bytes, and pytest's
        # tmp_path under xdist is longer than that.
        runtime = Path(tempfile.mkdtemp(prefix="ss-", dir="/tmp"))
        self._runtime = runtime
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(dir=runtime))
        self._bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        address = self._bus.stdout.readline().strip()
        self.env = {
            "DBUS_SESSION_BUS_ADDRESS": address,
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_DATA_HOME": str(self.root / "data"),
        }
        self.start_keyring()
        return self

    def start_keyring(self) -> None:
        """(Re)start the daemon, unlocking the login keyring with the password."""
        self.stop_keyring()
        self._keyring = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env},
        )
        self._keyring.stdin.write(self.password.encode())
        self._keyring.stdin.close()
        self._wait_for_service()

    def _wait_for_service(self) -> None:
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        deadline = time.monotonic() + 20
        while True:
            try:
                with open_dbus_connection(self.env["DBUS_SESSION_BUS_ADDRESS"]) as conn:
                    # Collection(): the default one or ItemNotFoundException; never
                    # get_default_collection, which would try to create it (a prompt).
                    if not secretstorage.Collection(conn).is_locked():
                        return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError("the private gnome-keyring did not come up unlocked")
            time.sleep(0.1)

    def stop_keyring(self) -> None:
        if self._keyring is not None:
            self._keyring.terminate()
            self._keyring.wait(timeout=10)
            self._keyring = None

    def stop(self) -> None:
        self.stop_keyring()
        if self._bus is not None:
            self._bus.terminate()
            self._bus.wait(timeout=10)
            self._bus.stdout.close()
            self._bus = None
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None
