"""A private PostgreSQL cluster from Debian's packages (used by the tests and the benchmark).

initdb in a temporary directory, loopback TCP on a random port plus a unix socket in
that directory, scram password auth for the `authsome` role over TCP and trust for the
`admin` superuser over the socket only. initdb refuses to run as root, so as root the
server runs as the `postgres` system user that Debian's package creates. Test settings
(fsync off): never for real data.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from support.fixtures import free_port

ROLE = "authsome"


class Unavailable(Exception):
    """PostgreSQL is not installed here and cannot be installed."""


def bin_dir() -> str | None:
    def version(path: str) -> int:
        part = path.split("/")[4]
        return int(part) if part.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return os.path.dirname(found[-1]) if found else None


def install() -> None:
    """apt-get install postgresql, when we are root on Debian (CI installs it up front)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        if subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode != 0:
            return


class Cluster:
    def __init__(self, bin_path: str, root: str, port: int, password: str):
        self.bin = bin_path
        self.root = root
        self.data = os.path.join(root, "data")
        self.port = port
        self.password = password
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @classmethod
    def start(cls) -> Cluster:
        path = bin_dir()
        if path is None:
            install()
            path = bin_dir()
        if path is None:
            raise Unavailable(
                "PostgreSQL server binaries are not in /usr/lib/postgresql/*/bin and "
                "`apt-get install postgresql` failed (or we are not root)"
            )
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise Unavailable("running as root needs runuser to start PostgreSQL as another user")
        root = tempfile.mkdtemp(prefix="authsome-pg-")
        os.chmod(root, 0o755)  # the server's user creates its socket here
        cluster = cls(path, root, free_port(), "pg-" + secrets.token_hex(12))
        try:
            cluster._init_and_start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _init_and_start(self) -> None:
        pwfile = os.path.join(self.root, "pw")
        Path(pwfile).write_text(secrets.token_hex(16) + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self._check(
            "initdb",
            "-D",
            self.data,
            "-U",
            "admin",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = os.path.join(self.root, "server.log")
        self._check("pg_ctl", "-D", self.data, "-o", opts, "-l", log, "-w", "start")
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")

    def _check(self, program: str, *args: str) -> None:
        res = self.run(os.path.join(self.bin, program), *args)
        if res.returncode != 0:
            raise RuntimeError(f"{program} failed: {res.stderr or res.stdout}")

    def stop(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_owner, *cmd], capture_output=True, text=True, timeout=timeout
        )

    def admin(self):
        """A superuser session over the unix socket (trust auth, local only)."""
        import psycopg

        return psycopg.connect(
            host=self.root, port=self.port, user="admin", dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        name = "t_" + secrets.token_hex(6)
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")

    def url(self, dbname: str, password: bool = True) -> str:
        auth = f"{ROLE}:{self.password}" if password else ROLE
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def enable_tls(self, cert: Path, key: Path) -> None:
        """Serve TLS with this leaf (copied where the server's user can read it); reload."""
        folder = Path(self.root) / "tls"
        folder.mkdir(exist_ok=True)
        for src, name in ((cert, "server.crt"), (key, "server.key")):
            dest = folder / name
            dest.write_bytes(Path(src).read_bytes())
            dest.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(dest, "postgres", "postgres")
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        with self.admin() as conn:
            conn.execute(f"ALTER SYSTEM SET ssl_cert_file = '{folder / 'server.crt'}'")
            conn.execute(f"ALTER SYSTEM SET ssl_key_file = '{folder / 'server.key'}'")
            conn.execute("ALTER SYSTEM SET ssl = on")
            conn.execute("SELECT pg_reload_conf()")

    def disable_tls(self) -> None:
        with self.admin() as conn:
            for setting in ("ssl", "ssl_cert_file", "ssl_key_file"):
                conn.execute(f"ALTER SYSTEM RESET {setting}")
            conn.execute("SELECT pg_reload_conf()")

    def dump(self, dbname: str) -> str:
        """pg_dump of one database (schema and data), as text."""
        pg_dump = os.path.join(self.bin, "pg_dump")
        res = subprocess.run(
            [pg_dump, "-h", self.root, "-p", str(self.port), "-U", "admin", dbname],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {res.stderr}")
        return res.stdout
