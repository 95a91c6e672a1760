"""A child of `authsome run --sandbox` that tries every road to a secret it can think of.

Run by tests/proxy/test_sandbox.py inside the sandbox; prints one JSON object:
{"attempts": {name: {"ok": bool, "saw": text}}, "requests": {name: text}}. "ok" means the
road gave something it should not have; the test checks none did and that no secret is
in anything seen. argv: JSON of what a well-informed attacker knows from outside (the
proxy's host pid, the real AUTHSOME_HOME, the bus address, the API host and ports).
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import socket
import ssl
import subprocess
import sys

known = json.loads(sys.argv[1])
attempts: dict[str, dict] = {}
everything: list[str] = []  # all it saw, whole, for the test's search for secrets
requests: dict[str, str] = {}
# A hostile child drops the marker that makes honest commands refuse, to see what is left;
# and keeps its own commands from spawning a warm agent of their own inside the sandbox
# (harmless, its home is empty, but its socket would then answer the agent-socket road).
env = {k: v for k, v in os.environ.items() if k != "AUTHSOME_RUN"}
env["AUTHSOME_AGENT"] = "0"


def attempt(name: str, fn) -> None:
    try:
        ok, saw = fn()
    except Exception as exc:  # each road must fail, one way or another
        ok, saw = False, f"{type(exc).__name__}: {exc}"
    attempts[name] = {"ok": bool(ok), "saw": str(saw)[-4000:]}
    everything.append(str(saw))


def command(*argv: str, stdin: str = ""):
    def go():
        res = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=30)
        return res.returncode == 0 and "token" in res.stdout.lower(), res.stdout + res.stderr

    return go


def read_tree(*roots: str):
    def go():
        seen = []
        for root in roots:
            for d, _, names in os.walk(root):
                for n in names:
                    with open(os.path.join(d, n), "rb") as f:
                        seen.append(f.read().decode("latin-1"))
        return bool(seen), "".join(seen)

    return go


def read_file(path: str):
    def go():
        with open(path, "rb") as f:
            data = f.read()
        return bool(data), data.decode("latin-1")

    return go


def proc_all():
    seen, readable = [], []
    for pid_dir in glob.glob("/proc/[0-9]*"):
        pid = int(pid_dir.rsplit("/", 1)[1])
        if pid == os.getpid():
            continue
        try:
            with open(f"{pid_dir}/environ", "rb") as f:
                seen.append(f.read().decode("latin-1"))
            readable.append(f"environ {pid}")
        except OSError:
            pass
        try:
            with open(f"{pid_dir}/maps") as maps, open(f"{pid_dir}/mem", "rb") as mem:
                for line in maps:
                    span, perms = line.split()[:2]
                    if "r" not in perms:
                        continue
                    start, end = (int(x, 16) for x in span.split("-"))
                    try:
                        mem.seek(start)
                        seen.append(mem.read(min(end - start, 1 << 24)).decode("latin-1"))
                    except (OSError, ValueError, OverflowError):
                        continue
            readable.append(f"mem {pid}")
        except OSError:
            pass
    pids = sorted(int(p.rsplit("/", 1)[1]) for p in glob.glob("/proc/[0-9]*"))
    # bwrap's own init (pid 1) holds nothing of ours; what matters is the pid count and
    # that nothing outside the sandbox is there
    # (the secret scan sees all of it: `attempts` keeps the tail, so the summary goes last)
    return len(pids) > 4, "".join(seen) + f" pids={pids} read={readable}"


def proxy_proc(what: str):
    return read_file(f"/proc/{known['proxy_pid']}/{what}")


def ptrace_proxy():
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.ptrace(16, known["proxy_pid"], None, None)  # PTRACE_ATTACH
    return result == 0, f"ptrace={result} errno={os.strerror(ctypes.get_errno())}"


def unix_connect(path: str):
    def go():
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(3)
        s.connect(path if not path.startswith("@") else "\0" + path[1:])
        s.close()
        return True, f"connected to {path}"

    return go


def bus():
    addresses = [a for a in known["bus"].split(";") if a]
    for address in addresses:
        for item in address.partition(":")[2].split(","):
            key, _, value = item.partition("=")
            if key == "path":
                return unix_connect(value)()
            if key == "abstract":
                return unix_connect("@" + value)()
    return False, f"no bus in {known['bus']!r}"


def keyring_lib():
    import keyring

    os.environ["DBUS_SESSION_BUS_ADDRESS"] = known["bus"]  # the one the user's session had
    value = keyring.get_password("authsome", f"master-key:{known['home']}")
    return value is not None, f"keyring answered {value!r}"


def secret_tool():
    res = subprocess.run(
        ["secret-tool", "search", "--all", "service", "authsome"],
        capture_output=True, text=True, timeout=20,
        env={**env, "DBUS_SESSION_BUS_ADDRESS": known["bus"]},
    )  # fmt: skip
    return res.returncode == 0 and bool(res.stdout.strip()), res.stdout + res.stderr


def tcp(port: int):
    def go():
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            return True, f"connected to 127.0.0.1:{port}"

    return go


def network():
    interfaces = sorted(os.listdir("/sys/class/net"))
    with open("/proc/net/route") as f:
        routes = f.read().splitlines()[1:]
    with (
        open("/proc/net/ipv6_route")
        if os.path.exists("/proc/net/ipv6_route")
        else open(os.devnull) as f
    ):
        routes6 = [r for r in f.read().splitlines() if not r.rstrip().endswith(" lo")]
    return interfaces != ["lo"] or routes or routes6, f"{interfaces} {routes} {routes6}"


def ca_key():
    tmpdir = os.path.dirname(os.environ["SSL_CERT_FILE"])
    _, seen = read_tree(tmpdir)()
    return "PRIVATE KEY" in seen, f"{sorted(os.listdir(tmpdir))} " + seen[-200:]


def inherited_sockets():
    """Descriptors it did not open itself: a socket among them (the client's connection
    to the run's process, the agent's listener) would be a road out of the sandbox."""
    seen = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            seen[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own descriptor, closed by now
    leaked = {fd: what for fd, what in seen.items() if fd > 2 and what.startswith("socket:")}
    return bool(leaked), f"{seen}"


api, port = known["api_host"], known["api_port"]
attempt("authsome export", command("authsome", "export", "testapi"))
attempt("authsome get --show-secret", command("authsome", "get", "testapi", "--show-secret"))
attempt("authsome-helper get", command("authsome-helper", "get", "testapi"))
git_input = f"protocol=https\nhost={api}\n\n"
attempt(
    "git credential fill",
    command("git", "-c", "credential.helper=authsome", "credential", "fill", stdin=git_input),
)
attempt("read AUTHSOME_HOME", read_tree(known["home"]))
attempt("read ~/.authsome", read_tree(os.path.expanduser("~/.authsome")))
attempt("read $XDG_RUNTIME_DIR", read_tree(known["runtime"]))
attempt("read the key file", read_file(os.path.join(known["home"], "master.key")))
attempt("read ~/.authsome/master.key", read_file(os.path.expanduser("~/.authsome/master.key")))
attempt("keyring library", keyring_lib)
attempt("secret-tool", secret_tool)
attempt("session bus socket", bus)
attempt("agent socket", unix_connect(os.path.join(known["home"], "agent", "agent.sock")))
attempt("/proc/*/environ and mem", proc_all)
attempt("/proc/<proxy>/environ", proxy_proc("environ"))
attempt("/proc/<proxy>/mem", proxy_proc("mem"))
attempt("ptrace the proxy", ptrace_proxy)
attempt("the run's CA key", ca_key)
attempt("TCP to the API host's real address", tcp(known["upstream_port"]))
attempt("TCP to another host loopback server", tcp(known["other_port"]))
attempt("network interfaces and routes", network)
attempt("inherited sockets", inherited_sockets)

# And what must work: the token injected, with and without the proxy variables.
url = f"https://{api}:{port}/echo"
res = subprocess.run(
    ["curl", "-sS", "-H", f"Authorization: Bearer {os.environ['TESTAPI_TOKEN']}", url],
    capture_output=True, text=True, timeout=30,
)  # fmt: skip
requests["curl via HTTPS_PROXY"] = res.stdout + res.stderr
try:
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    with (
        socket.create_connection((api, port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=api) as tls,
    ):
        tls.sendall(
            f"GET /echo HTTP/1.1\r\nHost: {api}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        body = b""
        while chunk := tls.recv(65536):
            body += chunk
    requests["raw TLS socket"] = body.decode("latin-1")
except Exception as exc:
    requests["raw TLS socket"] = f"{type(exc).__name__}: {exc}"
if known.get("node"):
    script = (
        "fetch(process.argv[1]).then(r => r.text())"
        ".then(t => console.log(t), e => console.log('error', e.cause || e))"
    )
    res = subprocess.run(
        [known["node"], "-e", script, url], capture_output=True, text=True, timeout=30
    )
    requests["node fetch"] = res.stdout + res.stderr
if known.get("java"):  # Java's HttpClient: no proxy variables, its own trust store
    import tempfile

    source = os.path.join(tempfile.mkdtemp(), "Fetch.java")
    with open(source, "w") as f:
        f.write(
            "import java.net.URI; import java.net.http.*;\n"
            "public class Fetch { public static void main(String[] a) throws Exception {\n"
            "  var r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(a[0]))"
            ".build(), HttpResponse.BodyHandlers.ofString());\n"
            "  System.out.println(r.body()); } }\n"
        )
    res = subprocess.run([known["java"], source, url], capture_output=True, text=True, timeout=120)
    requests["java HttpClient"] = res.stdout + res.stderr
print(json.dumps({"attempts": attempts, "requests": requests, "everything": everything}))
