"""Project files (`.authsome.toml`): finding, parsing and checking them.

A project file only maps environment variable names to connections; it never runs
anything. Import-light: the hook's worker loads it on every change of directory tree.
"""

from __future__ import annotations

import os

from authsome.errors import UsageError

FILENAME = ".authsome.toml"
MAX_BYTES = 64 * 1024  # read at a prompt: a project file has no business being large

_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _UPPER | frozenset("0123456789")
_PROVIDER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_CONNECTION_CHARS = _PROVIDER_CHARS | frozenset("@")

# Names that change how a shell, the dynamic loader, an interpreter or a tool finds and
# runs programs, reads its configuration or trusts servers. A token has no business in
# any of them, and putting one there would break the shell or hand the token to an
# unexpected program. Lowercase names are refused anyway (they are shell variables
# such as zsh's `path` or fish's `fish_*`, not environment variables).
DENIED = frozenset(
    {
        # the shell itself (bash, zsh, POSIX sh)
        "PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "CDPATH", "PWD", "OLDPWD",
        "PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "PROMPT", "PROMPT2",
        "PROMPT3", "PROMPT4", "RPROMPT", "RPROMPT2", "RPS1", "RPS2", "SPROMPT", "POSTEDIT",
        "SHELLOPTS", "BASHOPTS", "POSIXLY_CORRECT", "GLOBIGNORE", "FIGNORE", "EXECIGNORE",
        "HISTFILE", "HISTCONTROL", "HISTIGNORE", "HISTSIZE", "HISTFILESIZE", "HOSTFILE",
        "INPUTRC", "MAIL", "MAILPATH", "MAILCHECK", "TMOUT", "TIMEFORMAT", "FCEDIT",
        "FPATH", "MODULE_PATH", "NULLCMD", "READNULLCMD", "STTY", "WORDCHARS", "KEYTIMEOUT",
        "ZDOTDIR", "SHLVL", "USER", "LOGNAME", "TERM", "TERMINFO", "TMPDIR",
        "EPOCHSECONDS", "EPOCHREALTIME", "SECONDS", "RANDOM", "LINENO", "OPTIND", "OPTARG",
        # programs that other programs run for you
        "EDITOR", "VISUAL", "PAGER", "MANPAGER", "BROWSER", "SSH_ASKPASS", "SUDO_ASKPASS",
        "SSH_AUTH_SOCK", "MAKEFLAGS", "MAKE", "CC", "CXX", "CPP", "LD", "AR",
        # interpreters and runtimes that load code or options from the environment
        "NODE_OPTIONS", "NODE_PATH", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_USE_ENV_PROXY", "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB", "RUBYOPT",
        "RUBYLIB", "GEM_HOME", "GEM_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS", "CLASSPATH", "LUA_INIT", "LUA_PATH", "LUA_CPATH", "TCLLIBPATH",
        "R_PROFILE", "R_PROFILE_USER", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES",
        "RES_OPTIONS", "LOCALDOMAIN", "MANPATH",
        # whom programs trust and where their traffic goes
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "AWS_CA_BUNDLE", "DENO_CERT", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
        "FTP_PROXY",
    }
)  # fmt: skip
DENIED_PREFIXES = (
    "LD_",  # the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT)
    "DYLD_",  # the macOS loader
    "GLIBC_",  # GLIBC_TUNABLES
    "MALLOC_",
    "PYTHON",  # PYTHONPATH, PYTHONSTARTUP, PYTHONHOME... (authsome is Python itself)
    "BASH_",  # BASH_ENV, BASH_FUNC_x%% (exported functions), BASH_XTRACEFD
    "ZSH",
    "ZLE_",
    "GIT_",  # git reads dozens: GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_CONFIG_*, GIT_DIR...
    "XDG_",  # where every program looks for its configuration
    "LESS",  # LESSOPEN/LESSCLOSE run commands
    "AUTHSOME_",  # our own configuration (home, vault key)
    "__AUTHSOME",  # the hook's own state
)


# The rule for names tools read as a path to a configuration, a TLS key log, a hook or a
# plugin: a token there makes the tool read (or write: SSLKEYLOGFILE) a file named after
# the token, or run what such a file says. By their endings (*HOME, *RC, *CONF, *CONFIG,
# *FILE, *_DIR, *_PATH, *HOOK(S), *WRAPPER, *PLUGIN(S)), and the names that say so
# otherwise. A token's own name ends in _TOKEN, _KEY, _SECRET...: never one of these.
PATH_SUFFIXES = (
    "HOME", "RC", "CONF", "CONFIG", "FILE", "_DIR", "_PATH", "HOOK", "HOOKS", "WRAPPER",
    "PLUGIN", "PLUGINS",
)  # fmt: skip
PATH_NAMES = frozenset(
    {
        "SSLKEYLOGFILE", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES",
        "DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS", "CORECLR_PROFILER_PATH",
        "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_HOME", "NPM_CONFIG_USERCONFIG",
        "PIP_CONFIG_FILE", "CURL_HOME", "WGETRC", "GNUPGHOME", "KUBECONFIG", "DOCKER_CONFIG",
        "NETRC", "HGRCPATH", "GOENV", "GOFLAGS", "VIMINIT", "EXINIT", "MYVIMRC",
        "GOOGLE_APPLICATION_CREDENTIALS", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    }
)  # fmt: skip
PATH_PREFIXES = ("NPM_CONFIG_",)  # npm reads every npm_config_* as configuration


def names_a_path(name: str) -> bool:
    """Does a tool read `name` as a path to a config, key log, hook or plugin?"""
    return name in PATH_NAMES or name.endswith(PATH_SUFFIXES) or name.startswith(PATH_PREFIXES)


class ProjectError(UsageError):
    """A project file that cannot be used as it is."""


class Entry:
    """One `NAME = "provider[:connection]"` line of the [env] table."""

    __slots__ = ("connection", "name", "provider")

    def __init__(self, name: str, provider: str, connection: str = "default"):
        self.name = name
        self.provider = provider
        self.connection = connection

    def __repr__(self) -> str:
        return f"Entry({self.name!r}, {self.provider!r}, {self.connection!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (self.name, self.provider, self.connection) == (
            other.name,
            other.provider,
            other.connection,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.provider, self.connection))


def name_problem(name: str) -> str | None:
    """Why `name` cannot be exported from a project file, or None when it can."""
    if not name or name[0] not in _UPPER or not set(name) <= _NAME_CHARS:
        return "is not an environment variable name (use A-Z, 0-9 and _, not starting with a digit)"
    if name in DENIED or name.startswith(DENIED_PREFIXES):
        return "is refused: it changes how shells or programs run"
    if names_a_path(name):
        return "is refused: tools read it as a path to a config, key log, hook or plugin"
    return None


def usable_name(name: str) -> bool:
    return name_problem(name) is None


def entry(name: str, value: object) -> Entry:
    """One checked `NAME = "provider[:connection]"`; ProjectError says what is wrong."""
    problem = name_problem(name)
    if problem:
        raise ProjectError(f"{name} {problem}")
    if not isinstance(value, str):
        raise ProjectError(f'{name} must be a string "provider" or "provider:connection"')
    provider, sep, connection = value.partition(":")
    if not sep:
        connection = "default"
    if not provider or not set(provider) <= _PROVIDER_CHARS or provider[0] in "._-":
        raise ProjectError(f"{name}: bad provider name '{provider}'")
    if (
        not connection
        or len(connection) > 64
        or not set(connection) <= _CONNECTION_CHARS
        or connection[0] in "._@-"
    ):
        raise ProjectError(f"{name}: bad connection name '{connection}'")
    return Entry(name, provider, connection)


def parse(content: bytes) -> list[Entry]:
    """The [env] entries of a project file; ProjectError names the first problem."""
    import tomllib

    if len(content) > MAX_BYTES:
        raise ProjectError(f"the file is larger than {MAX_BYTES // 1024} KiB")
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProjectError("the file is not UTF-8")
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"not valid TOML ({exc})")
    except RecursionError:  # tomllib recurses on deeply nested arrays and tables
        raise ProjectError("the file nests too deeply")
    env = data.get("env", {})
    if not isinstance(env, dict):
        raise ProjectError("[env] must be a table")
    return [entry(name, value) for name, value in env.items()]


def find(start: str) -> str | None:
    """The nearest project file from `start` upward (the one that governs), or None."""
    d = os.path.abspath(start)
    while True:
        candidate = os.path.join(d, FILENAME)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def read(path: str) -> bytes:
    """The file's bytes, refusing anything too large before reading it whole."""
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ProjectError(f"{path}: the file is larger than {MAX_BYTES // 1024} KiB")
    return data
