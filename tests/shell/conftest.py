"""Real interactive bash, zsh and fish on a pseudo-terminal, with our hook installed.

Each `Session` starts the shell interactively (so its prompt machinery, and with it
PROMPT_COMMAND / precmd / fish_prompt, runs exactly as for a person), installs the
hook through `eval "$(authsome hook SHELL)"` in its rc file, and types commands,
waiting for the next prompt. Values are read back through files written by the
shell's own `printf`, byte-exact. Optionally the whole shell runs under
`strace -f` so that a test can count every process the prompts start.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name) or name


def shell_path(shell: str) -> str:
    """The shell's executable, or skip the test: zsh and fish are optional on a dev box."""
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed (scripts/test installs it on Debian as root)")
    return path


SHELLS = ("bash", "zsh", "fish")
MARK = "<<PRMPT>>"  # never typed: the echo of a command cannot fake a prompt
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b[=>]|\r")


def _controlling_tty() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def rc_text(shell: str, hook: str, before: str = "", after: str = "") -> str:
    """An rc file: the test's own lines, our hook, more lines; a prompt we can spot."""
    if shell == "fish":
        prompt = (
            f"function fish_prompt; printf '%s' '{MARK}'; end\nfunction fish_greeting; end\n"
            "function __st; return $argv[1]; end\n"
        )
        return f"{before}\n{hook}\n{after}\n{prompt}"
    prompt = f"PS1='{MARK}'\nPS2=''\n__st() {{ return $1; }}\n"
    if shell == "zsh":
        prompt = f"PROMPT='{MARK}'\nPROMPT2=''\nunsetopt zle prompt_sp\n__st() {{ return $1; }}\n"
    return f"{before}\n{hook}\n{after}\n{prompt}stty -echo\n"


class Session:
    def __init__(
        self,
        shell: str,
        workdir: Path,
        cwd: Path,
        env: dict,
        before: str = "",
        after: str = "",
        strace: bool = False,
        install: int = 1,
        hook: str | None = None,
    ):
        self.shell = shell
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        if hook is None:
            argv = [tool("authsome"), "hook", shell]
            hook = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout
        hook_file = self.dir / f"hook.{shell}"
        hook_file.write_text(hook)
        # Sourcing the rc file N times must install the hook once.
        install_line = f"source {hook_file}"
        text = rc_text(shell, "\n".join([install_line] * install), before, after)
        env = dict(env, TERM="dumb", HISTFILE=str(self.dir / "hist"), LC_ALL="C.UTF-8")
        env.pop("PROMPT_COMMAND", None)
        if shell == "bash":
            rc = self.dir / "bashrc"
            rc.write_text(text)
            argv = ["bash", "--noprofile", "--rcfile", str(rc), "--noediting", "-i"]
        elif shell == "zsh":
            (self.dir / ".zshrc").write_text(text)
            env["ZDOTDIR"] = str(self.dir)
            argv = ["zsh", "--no-globalrcs", "-i"]
        else:
            rc = self.dir / "config.fish"
            rc.write_text(text)
            env["XDG_CONFIG_HOME"] = str(self.dir / "xdg")
            env["XDG_DATA_HOME"] = str(self.dir / "xdg-data")
            argv = ["fish", "--no-config", "-i", "-C", f"source {rc}"]
        self.trace = self.dir / "strace.log" if strace else None
        if strace:
            argv = ["strace", "-f", "-qq", "-o", str(self.trace),
                    "-e", "trace=execve,clone,clone3,fork,vfork,%stat,%file", *argv]  # fmt: skip
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=str(cwd),
            env=env,
            preexec_fn=_controlling_tty,
            close_fds=True,
        )
        os.close(slave)
        self.fd = master
        self.log = b""
        self.count = 0
        self.startup = self._until_prompt(timeout=30)

    # -- driving ------------------------------------------------------------------------
    def _read_until(self, token: bytes, buf: bytes, deadline: float) -> bytes:
        while token not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.shell}: waited for {token!r}; got {buf[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise RuntimeError(f"{self.shell} exited; got {buf[-2000:]!r}")
                buf += chunk
        return buf

    def _until_prompt(self, timeout: float = 20) -> str:
        buf = self._read_until(MARK.encode(), b"", time.monotonic() + timeout)
        self.log += buf
        return ANSI.sub(b"", buf.partition(MARK.encode())[0]).decode("utf-8", "replace")

    def run(self, line: str, timeout: float = 20, status: int | None = None) -> str:
        """Type one command line; its output and the hook's, up to the next prompt.

        The line ends with a builtin printf of a token (written in two halves, so the
        terminal's echo of the line cannot contain it), then the next prompt is awaited:
        fish redraws its prompt, so the prompt alone does not say the command ran.
        `status` ends the line with a command exiting with that status, for `$?` tests.
        """
        self.count += 1
        token = f"@@{self.count}@@".encode()
        tail = f"; printf '%s%s\\n' '@@{self.count}' '@@'"
        if status is not None:
            tail += f"; __st {status}"
        os.write(self.fd, (line + tail + "\n").encode())
        deadline = time.monotonic() + timeout
        buf = self._read_until(token, b"", deadline)
        head, _, rest = buf.partition(token)
        rest = self._read_until(MARK.encode(), rest, deadline)
        self.log += head + token + rest
        text = head + rest.partition(MARK.encode())[0]
        # Drop the echo of the typed line (up to its end) when the terminal echoed it.
        text = ANSI.sub(b"", text).decode("utf-8", "replace")
        return text

    def cd(self, path: Path | str) -> str:
        return self.run(f"cd {quote(str(path))}")

    def value(self, name: str) -> str | None:
        """The variable as the shell holds it (None when unset), byte-exact."""
        out = self.dir / "value.out"
        flag = self.dir / "value.set"
        for p in (out, flag):
            if p.exists():
                p.unlink()
        if self.shell == "fish":
            self.run(
                f"if set -q {name}; printf '%s' ${name} > {out}; printf 1 > {flag};"
                f" else; printf 0 > {flag}; end"
            )
        else:
            self.run(
                f'if [[ -n ${{{name}+x}} ]]; then printf %s "${name}" > {out}; printf 1 > {flag};'
                f" else printf 0 > {flag}; fi"
            )
        if flag.read_text() != "1":
            return None
        return out.read_bytes().decode("utf-8", "surrogateescape")

    def exported(self, name: str) -> bool:
        """Whether a child process sees the variable."""
        out = self.dir / "env.out"
        self.run(f"env > {out}")
        return any(line.startswith(f"{name}=") for line in out.read_text().splitlines())

    def mark(self, tag: str) -> None:
        """A builtin-only command whose path shows up in the strace log."""
        probe = f"/nonexistent-authsome-mark-{tag}"
        self.run(f"test -e {probe}" if self.shell == "fish" else f"[[ -e {probe} ]]")

    def processes_between(self, a: str, b: str) -> list[str]:
        """Process creations (execve, fork; not threads) between two marks."""
        self.close()
        lines = self.trace.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if f"mark-{a}" in line)
        end = next(i for i, line in enumerate(lines) if f"mark-{b}" in line)
        out = []
        for line in lines[start:end]:
            if "CLONE_THREAD" in line:
                continue
            if re.search(r"\b(execve|clone3?|v?fork)\(", line) and "resumed" not in line:
                out.append(line)
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.write(self.fd, b"exit\n")
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        try:
            os.close(self.fd)
        except OSError:
            pass


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.fixture
def session(tmp_path, home):
    """Factory: session(shell, cwd=..., **options) -> a running interactive shell."""
    made: list[Session] = []
    counter = iter(range(1000))

    def make(shell: str, cwd: Path | None = None, **options) -> Session:
        shell_path(shell)
        env = dict(os.environ)
        env["PATH"] = f"{Path(tool('authsome')).parent}:{env.get('PATH', '')}"
        s = Session(shell, tmp_path / f"sh{next(counter)}", cwd or tmp_path, env, **options)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def seed(run, home):
    """Store credentials through our real console scripts."""

    def api_key(provider: str, key: str, connection: str = "default") -> None:
        r = run("authsome", "login", provider, "--connection", connection, "--api-key-stdin",
                input=key)  # fmt: skip
        assert r.returncode == 0, r.stderr

    def token(provider: str, value: str, expires_in: int = 3600, connection: str = "default"):
        import json

        body = json.dumps({"access_token": value, "expires_in": expires_in})
        r = run("authsome-helper", "store", provider, "--connection", connection, input=body)
        assert r.returncode == 0, r.stdout + r.stderr

    class Seed:
        pass

    s = Seed()
    s.api_key = api_key
    s.token = token
    return s


def write_project(directory: Path, entries: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".authsome.toml"
    body = "[env]\n" + "".join(f'{k} = "{v}"\n' for k, v in entries.items())
    path.write_text(body)
    return path


def forge_approval(path: Path, mapping: dict[str, str]) -> None:
    """An approval entry written by hand (or an older version), unchecked."""
    from authsome.shell import approval

    entry = Path(approval.check(str(path), path.read_bytes()).allow_entry)
    entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry.write_text("".join(f"{k} {v} default\n" for k, v in mapping.items()))


def allow(run, directory: Path) -> None:
    r = run("authsome", "allow", str(directory))
    assert r.returncode == 0, r.stderr
