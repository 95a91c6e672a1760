"""`authsome _hook-env SHELL FILE PREV_FILE VARS NOTED`: what the hook runs on a change.

The shell calls this only when its builtin checks saw a change (another project file,
an edited file or approval, a token near expiry, a login). It prints shell code that
the hook evals: restores, exports and the new hook state, in one write, so an
interrupted run changes nothing. Messages go to stderr, once per entry into a tree.

Arguments carry no secret: the project file the shell found ('' for none), the one it
governed before, the names it manages and the messages already shown.

Import-light: `cli.main` dispatches here before argparse; a valid cached token costs
one vault read (`fastpath.answer`); the credential service (attrs, OAuth, httpx) loads only
when a token must be refreshed or an error explained.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from authsome.errors import AuthsomeError, NotFound, ReauthRequired, UnknownProvider
from authsome.protocol.shellquote import posix_quote
from authsome.shell import approval, dialect, project, watch

# A token within this many seconds of expiry is refreshed at the next prompt.
REFRESH_MARGIN = 300
RETRY_AFTER = 30


def _say(line: str) -> None:
    sys.stderr.write(f"authsome: {line}\n")


class Token:
    __slots__ = ("expires_at", "margin", "value")

    def __init__(self, value: str, expires_at: float | None, margin: float = REFRESH_MARGIN):
        self.value = value
        self.expires_at = expires_at
        self.margin = margin  # refresh this many seconds before expiry

    def due(self, now: float) -> float | None:
        """When the worker must look again for this token (None: never)."""
        if self.expires_at is None:
            return None
        when = self.expires_at - self.margin
        # Refresh failed softly (the service kept the old token): retry, not every prompt.
        return when if when > now else min(now + RETRY_AFTER, self.expires_at)


def margin_for(record: dict) -> float:
    """REFRESH_MARGIN, or a quarter of the lifetime of a token issued shorter than that.

    Without this, a token shorter-lived than the margin would be refreshed by every
    run of the worker, and every refresh (a vault write) would run the worker again.
    """
    expires_at, issued = record.get("expires_at"), record.get("updated_at")
    if expires_at is None or issued is None or expires_at <= issued:
        return REFRESH_MARGIN
    return min(REFRESH_MARGIN, max(1.0, (expires_at - issued) / 4))


def fetch(provider: str, connection: str) -> Token:
    """The current secret, refreshed when it nears expiry (see margin_for)."""
    from authsome.fastpath import answer
    from authsome.protocol.helper import answer_expiry, answer_secret

    margins = [REFRESH_MARGIN]

    def min_ttl(record: dict) -> float:
        margins.append(margin_for(record))
        return margins[-1]

    got = answer(provider, connection, min_ttl, warn=lambda text: _say(f"warning: {text}"))
    return Token(answer_secret(got), answer_expiry(got), margins[-1])


def _arg(path: str) -> str:
    """`path` as one shell word, quoted only when it needs to be."""
    safe = path and all(c.isalnum() or c in "/._-+,:@%" for c in path)
    return path if safe else posix_quote(path)


def _login_hint(provider: str, connection: str) -> str:
    extra = "" if connection == "default" else f" --connection {connection}"
    return f"`authsome login {provider}{extra}`"


def _failure(entry: project.Entry, exc: BaseException) -> tuple[str, str]:
    """(noted key, message) for a variable that cannot be exported."""
    where = f"{entry.name} not set: {entry.provider}"
    where += "" if entry.connection == "default" else f" ({entry.connection})"
    if isinstance(exc, NotFound):
        kind, text = (
            "missing",
            f"{where} is not logged in; run {_login_hint(entry.provider, entry.connection)}",
        )
    elif isinstance(exc, ReauthRequired):
        kind, text = (
            "reauth",
            f"{where} needs a new login; run {_login_hint(entry.provider, entry.connection)}",
        )
    elif isinstance(exc, UnknownProvider):
        kind, text = "unknown", f"{entry.name} not set: unknown provider '{entry.provider}'"
    elif isinstance(exc, KeyboardInterrupt):
        kind, text = (
            "interrupted",
            f"{entry.name} not set: interrupted (enter the directory again to retry)",
        )
    elif isinstance(exc, AuthsomeError):
        kind, text = "error", f"{entry.name} not set: {exc}"
    else:
        kind, text = "error", f"{entry.name} not set: internal error ({type(exc).__name__})"
    return f"{kind}:{entry.name}:{entry.provider}:{entry.connection}", text


class Plan:
    """What the worker decided: variables to export, messages, what the shell watches."""

    def __init__(self, file: str, noted: list[str]):
        self.file = file
        self.noted = noted
        self.exports: dict[str, str] = {}
        self.watches: list[watch.Watch] = []
        self.deadline: float | None = None

    def note(self, key: str, message: str) -> None:
        if key not in self.noted:
            self.noted.append(key)
            _say(message)

    def expire_at(self, when: float) -> None:
        self.deadline = when if self.deadline is None else min(self.deadline, when)


def plan(file: str, prev_file: str, noted: list[str]) -> Plan:
    """Decide the environment for project file `file` ('' when none governs)."""
    result = Plan(file, noted if file == prev_file else [])
    if not file:
        return result
    result.watches.append(watch.mtime(file))
    try:
        content = project.read(file)
    except (OSError, project.ProjectError) as exc:
        result.note("unreadable", f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}")
        return result
    where = _arg(os.path.dirname(file))
    appr = approval.check(file, content)
    result.watches += [watch.presence(appr.allow_entry), watch.presence(appr.deny_entry)]
    key = appr.allow_entry[-16:]
    if appr.state == approval.DENIED:
        result.note(
            f"denied:{key}", f"{file} is blocked; run `authsome allow {where}` to approve it"
        )
        return result
    if appr.state != approval.ALLOWED:
        result.note(
            f"blocked:{key}",
            f"{file} is not approved; run `authsome allow {where}` to approve its content",
        )
        return result
    try:
        entries = approval.approved_entries(appr)
    except project.ProjectError as exc:
        result.note(f"invalid:{key}", f"{file}: {exc}; nothing exported")
        return result
    # A login, logout or refresh by another process changes the vault: look again then.
    from authsome import paths

    result.watches.append(watch.mtime(os.path.join(paths.vault_dir(), "connections")))
    fetched: dict[tuple[str, str], Token | BaseException] = {}
    for entry in entries:
        pair = (entry.provider, entry.connection)
        if pair not in fetched:
            try:
                fetched[pair] = fetch(*pair)
            except (Exception, KeyboardInterrupt) as exc:  # one must not stop the others
                fetched[pair] = exc
        got = fetched[pair]
        if isinstance(got, BaseException):
            result.note(*_failure(entry, got))
            continue
        if not got.value or "\0" in got.value:
            result.note(
                f"empty:{entry.name}", f"{entry.name} not set: the stored secret is unusable"
            )
            continue
        result.exports[entry.name] = got.value
        due = got.due(time.time())
        if due is not None:
            result.expire_at(due)
    return result


def render(shell: dialect.Dialect, result: Plan, managed: list[str]) -> str:
    """The code the hook evals: restore, save, export, then the new state."""
    lines = [shell.restore(n) for n in managed if n not in result.exports]
    for name, value in result.exports.items():
        if name not in managed:
            lines.append(shell.save(name))
        lines.append(shell.export(name, value))
    now_ns = time.time_ns()
    deadline = result.deadline
    specs: list[str] = []
    for w in result.watches:
        if w.racy(now_ns, whole_seconds=not shell.stamps):
            deadline = min(deadline or float("inf"), now_ns // 1_000_000_000 + 1)
        specs += [w.path, w.spec(shell.stamps)]
    lines += shell.state(
        result.file,
        list(result.exports),
        result.noted,
        "" if deadline is None else str(int(deadline)),
        specs,
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_hook-env"]:
        args = args[1:]
    if not args or args[0] not in dialect.SHELLS:
        _say("usage: authsome _hook-env bash|zsh|fish [FILE PREV_FILE VARS NOTED]")
        return 2
    # The hook ignores SIGINT while we run (so the shell's prompt survives Ctrl-C) and we
    # inherit that: take Ctrl-C back, to give up on a connection that hangs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    shell = dialect.get(args[0])
    file, prev_file, names, noted = [*args[1:], "", "", "", ""][:4]
    if file and not os.path.isabs(file):
        file = os.path.abspath(file)
    # VARS may come from the environment of a parent shell: trust only sane names.
    managed = [n for n in names.split() if project.usable_name(n)]
    try:
        code = render(shell, plan(file, prev_file, noted.split()), managed)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the prompt must stay usable whatever happens here
        _say(f"shell hook failed: {exc if isinstance(exc, AuthsomeError) else type(exc).__name__}")
        return 1
    data = code.encode("utf-8", "surrogateescape")
    fd = sys.stdout.fileno()
    while data:  # one write in practice; loop for pipes that take less
        data = data[os.write(fd, data) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())
