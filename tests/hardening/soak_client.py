"""The proxy soak's load: run as the child of `authsome run`, so the proxy is its parent.

One event loop hosts a faulty HTTPS upstream (both test names, one port) and many
client connections through the proxy (HTTPS_PROXY from the environment). The mix:
intercepted keep-alive requests, blind tunnels, server-sent events, 10 MB uploads; the
upstream resets, stalls, answers malformed heads and closes mid-body; some clients
stall (slowloris) or disconnect mid-request. The parent's /proc entry (the proxy
process) is sampled for open fds and RSS. Writes a JSON report; never prints a secret
(the upstream answers a hash of the Authorization header it got, not the header).

    python soak_client.py CONFIG.json REPORT.json
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import json
import os
import random
import socket
import ssl
import struct
import sys
import time
from urllib.parse import parse_qs, urlsplit

import h11

KINDS = {  # weight per 1000 requests
    "echo": 700,
    "tunnel": 80,
    "sse": 50,
    "upload": 5,
    "stall": 15,
    "reset": 40,
    "malformed": 40,
    "midbody": 30,
    "abort_request": 20,
    "abort_response": 20,
}
FAULTS = ("reset", "malformed", "midbody", "abort_request", "abort_response", "slowloris")
UPLOAD_CHUNK = os.urandom(1 << 20)
BODY_TIMEOUT = 5.0


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# -- the faulty upstream ----------------------------------------------------------------


class Upstream:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(cfg["cert"], cfg["key"])
        self.stats: collections.Counter[str] = collections.Counter()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self.handle, "127.0.0.1", self.cfg["upstream_port"], ssl=self.ctx, limit=1 << 20
        )

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                req = await self._next(conn, reader)
                if not isinstance(req, h11.Request):
                    return
                url = urlsplit(req.target.decode())
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                auth = dict((k.lower(), v) for k, v in req.headers).get(b"authorization", b"")
                self.stats[url.path] += 1
                if url.path == "/reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if url.path == "/malformed":
                    junk = random.choice(
                        [
                            b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
                            b"HTTP/1.1 2000 What\r\n\r\n",
                            b"\x00\xff garbage \r\n\r\n",
                            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                        ]
                    )
                    writer.write(junk)
                    await writer.drain()
                    await asyncio.sleep(0.05)
                    writer.close()
                    return
                size, digest = 0, hashlib.sha256()
                while True:
                    # Like real servers (nginx: client_body_timeout), a body that stops
                    # arriving ends the exchange; without it an aborted upload is held.
                    ev = await asyncio.wait_for(self._next(conn, reader), BODY_TIMEOUT)
                    if isinstance(ev, h11.Data):
                        size += len(ev.data)
                        digest.update(ev.data)
                    elif isinstance(ev, h11.EndOfMessage):
                        break
                    else:
                        return  # the client went away mid-body
                if url.path == "/midbody":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
                    await writer.drain()
                    writer.close()
                    return
                if url.path == "/stall":
                    await asyncio.sleep(float(q.get("s", "2")))
                if url.path == "/sse":
                    await self._sse(conn, writer, int(q.get("n", "20")), float(q.get("d", "0.005")))
                else:
                    body = json.dumps(
                        {
                            "id": q.get("id"),
                            "auth": sha(auth),
                            "size": size,
                            "body": digest.hexdigest(),
                        }
                    ).encode()
                    headers = [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                    writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
                    writer.write(conn.send(h11.Data(data=body)))
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (
            ConnectionError,
            OSError,
            h11.ProtocolError,
            asyncio.IncompleteReadError,
            ssl.SSLError,
        ):
            return
        except (TimeoutError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _sse(self, conn, writer, n: int, delay: float) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
        for i in range(n):
            writer.write(conn.send(h11.Data(data=f"id: {i}\ndata: event {i}\n\n".encode())))
            await writer.drain()
            await asyncio.sleep(delay)
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()

    @staticmethod
    async def _next(conn, reader):
        while True:
            ev = conn.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            conn.receive_data(await reader.read(1 << 16))


# -- clients ---------------------------------------------------------------------------


class Truncated(Exception):
    pass


class Client:
    """One connection through the proxy: CONNECT, TLS, then h11 keep-alive requests."""

    def __init__(self, soak: Soak, host: str) -> None:
        self.soak, self.host = soak, host
        self.reader = self.writer = None
        self.conn: h11.Connection | None = None

    async def open(self) -> None:
        s = self.soak
        r, w = await asyncio.open_connection("127.0.0.1", s.proxy_port, limit=1 << 20)
        self.reader, self.writer = r, w
        s.open_clients += 1
        s.max_clients = max(s.max_clients, s.open_clients)
        target = f"{self.host}:{s.port}"
        w.write(
            f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
            f"Proxy-Authorization: {s.proxy_auth}\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"CONNECT answered {head[:40]!r}")
        await w.start_tls(s.client_ctx, server_hostname=self.host)
        self.conn = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
            self.writer = None
            self.soak.open_clients -= 1

    async def _next(self):
        while True:
            try:
                ev = self.conn.next_event()
            except h11.RemoteProtocolError as exc:  # the proxy cut a message short
                raise Truncated(str(exc)) from None
            if ev is not h11.NEED_DATA:
                return ev
            self.conn.receive_data(await self.reader.read(1 << 16))

    async def request(self, method: str, target: str, body_chunks=(), length: int = 0):
        """(status, body bytes, events count). Truncated if the stream stops early."""
        headers = [
            (b"host", self.host.encode()),
            (b"authorization", b"Bearer authsome-proxy-managed"),
        ]
        if method == "POST":
            headers.append((b"content-length", str(length).encode()))
        self.writer.write(
            self.conn.send(h11.Request(method=method, target=target, headers=headers))
        )
        for chunk in body_chunks:
            self.writer.write(self.conn.send(h11.Data(data=chunk)))
            await self.writer.drain()
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        await self.writer.drain()
        resp = await self._next()
        if not isinstance(resp, h11.Response):
            raise Truncated("no response head")
        body = bytearray()
        while True:
            ev = await self._next()
            if isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
            else:
                raise Truncated(f"status {resp.status_code}, body cut at {len(body)}")
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:
            self.close()
        return resp.status_code, bytes(body)


class Soak:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.port = cfg["upstream_port"]
        proxy = urlsplit(os.environ["HTTPS_PROXY"])
        self.proxy_port = proxy.port
        cred = f"{proxy.username}:{proxy.password}".encode()
        self.proxy_auth = "Basic " + base64.b64encode(cred).decode()
        self.client_ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        self.client_ctx.load_verify_locations(cfg["ca"])  # the upstream's CA, for tunnels
        self.pid = os.getppid()  # `authsome run`: the proxy's process
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.faults: collections.Counter[str] = collections.Counter()
        self.open_clients = self.max_clients = 0
        self.rss_peak = self.fds_peak = 0
        self.expected_auth = cfg["auth_sha"]  # sha256 of the header the proxy must inject
        self.placeholder_auth = sha(b"Bearer authsome-proxy-managed")

    def fail(self, kind: str, detail: str) -> None:
        self.outcomes[f"{kind}:FAILED"] += 1
        if len(self.failures) < 30:
            self.failures.append(f"{kind}: {detail}")

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.fds_peak = max(self.fds_peak, proc_fds(self.pid))
            self.rss_peak = max(self.rss_peak, proc_rss_kb(self.pid))
            await asyncio.sleep(0.2)

    async def one(self, client: Client | None, kind: str, rid: int) -> Client | None:
        """Run one job; returns the keep-alive client to reuse (or None)."""
        cfg = self.cfg
        if kind == "tunnel":
            c = Client(self, cfg["other_host"])
            await c.open()
            try:
                status, body = await c.request("GET", f"/echo?id={rid}")
                doc = json.loads(body)
                if status == 200 and doc["id"] == str(rid) and doc["auth"] == self.placeholder_auth:
                    self.outcomes["tunnel:ok"] += 1
                else:
                    self.fail(kind, f"{status} {body[:80]!r}")
            finally:
                c.close()
            return client
        if kind in ("abort_request", "abort_response"):
            self.faults[kind] += 1
            c = Client(self, cfg["api_host"])
            await c.open()
            try:
                if kind == "abort_request":
                    req = h11.Request(
                        method="POST",
                        target=f"/echo?id={rid}",
                        headers=[
                            (b"host", cfg["api_host"].encode()),
                            (b"content-length", b"1048576"),
                        ],
                    )
                    c.writer.write(c.conn.send(req))
                    c.writer.write(c.conn.send(h11.Data(data=UPLOAD_CHUNK[:65536])))
                    await c.writer.drain()
                    await asyncio.sleep(0.05)
                else:
                    c.writer.write(
                        c.conn.send(
                            h11.Request(
                                method="GET",
                                target="/sse?n=2000&d=0.01",
                                headers=[(b"host", cfg["api_host"].encode())],
                            )
                        )
                    )
                    c.writer.write(c.conn.send(h11.EndOfMessage()))
                    await c.writer.drain()
                    await asyncio.wait_for(c.reader.read(100), 30)  # the first bytes, then gone
            finally:
                c.close()
            self.outcomes[f"{kind}:done"] += 1
            return client
        if client is None or client.writer is None:
            client = Client(self, cfg["api_host"])
            await client.open()
        try:
            if kind == "upload":
                size = cfg["upload_mb"] << 20
                chunks = [UPLOAD_CHUNK] * cfg["upload_mb"]
                status, body = await client.request("POST", f"/echo?id={rid}", chunks, size)
                doc = json.loads(body)
                want = hashlib.sha256(UPLOAD_CHUNK * cfg["upload_mb"]).hexdigest()
                ok = status == 200 and doc["size"] == size and doc["body"] == want
            elif kind == "sse":
                status, body = await client.request("GET", "/sse?n=20")
                ok = status == 200 and body == b"".join(
                    f"id: {i}\ndata: event {i}\n\n".encode() for i in range(20)
                )
            else:
                path = {
                    "echo": "/echo",
                    "stall": "/stall",
                    "reset": "/reset",
                    "malformed": "/malformed",
                    "midbody": "/midbody",
                }[kind]
                if kind in ("reset", "malformed", "midbody"):
                    self.faults[kind] += 1
                status, body = await client.request("GET", f"{path}?id={rid}")
                if kind in ("reset", "malformed"):
                    ok = status in (502, 504)
                elif kind == "midbody":
                    ok = status in (502, 504)  # (a truncated 200 is the other clean end)
                else:
                    doc = json.loads(body)
                    ok = (
                        status == 200
                        and doc["id"] == str(rid)
                        and doc["auth"] == self.expected_auth
                    )
            if ok:
                self.outcomes[f"{kind}:ok"] += 1
            else:
                self.fail(kind, f"{status} {body[:100]!r}")
        except Truncated as exc:
            client.close()
            if kind in ("midbody", "malformed"):  # the head was relayed, then the body cut
                self.outcomes[f"{kind}:truncated"] += 1
            else:
                self.fail(kind, f"truncated: {exc}")
        return client

    async def worker(self, jobs: asyncio.Queue) -> None:
        client = None
        while True:
            try:
                rid, kind = jobs.get_nowait()
            except asyncio.QueueEmpty:
                break
            try:
                client = await asyncio.wait_for(
                    self.one(client, kind, rid), self.cfg["request_timeout"]
                )
            except TimeoutError:
                self.fail(kind, "no answer within the request timeout")
                client = None
            except Exception as exc:
                self.fail(kind, f"{type(exc).__name__}: {exc}")
                if client is not None:
                    client.close()
                client = None
        if client is not None:
            client.close()

    async def slowloris(self, stop: asyncio.Event, inside_tls: bool) -> None:
        """A client that sends its request head one byte a second and never finishes."""
        self.faults["slowloris"] += 1
        try:
            if inside_tls:
                c = Client(self, self.cfg["api_host"])
                await c.open()
                w = c.writer
                c.writer = None
            else:
                _, w = await asyncio.open_connection("127.0.0.1", self.proxy_port)
            for b in b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000:
                if stop.is_set():
                    break
                w.write(bytes([b]))
                await w.drain()
                await asyncio.sleep(1.0)
            w.transport.abort()
        except ConnectionError:
            self.faults["slowloris_cut_by_proxy"] += 1  # the header timeout did its job
        except Exception as exc:
            self.failures.append(f"slowloris: {type(exc).__name__}: {exc}")

    async def run(self) -> dict:
        cfg = self.cfg
        up = Upstream(cfg)
        await up.start()
        await asyncio.sleep(0.2)
        base_fds, base_rss = proc_fds(self.pid), proc_rss_kb(self.pid)
        rng = random.Random(cfg.get("seed", 1))
        kinds = [k for k, w in KINDS.items() for _ in range(w)]
        jobs: asyncio.Queue = asyncio.Queue()
        planned = collections.Counter()
        for i in range(cfg["requests"]):
            kind = rng.choice(kinds)
            planned[kind] += 1
            jobs.put_nowait((i, kind))
        stop = asyncio.Event()
        start = time.monotonic()
        sampler = asyncio.create_task(self.sample(stop))
        lorises = [
            asyncio.create_task(self.slowloris(stop, i % 2 == 1)) for i in range(cfg["slowloris"])
        ]
        await asyncio.gather(*(self.worker(jobs) for _ in range(cfg["connections"])))
        elapsed = time.monotonic() - start
        stop.set()
        await asyncio.gather(*lorises, sampler)
        # the proxy still serves, after everything
        c = Client(self, cfg["api_host"])
        await c.open()
        status, body = await c.request("GET", "/echo?id=final")
        still_serves = status == 200 and json.loads(body)["auth"] == self.expected_auth
        c.close()
        # fds back: wait for the proxy to notice closed clients (idle upstream pool aside)
        deadline = time.monotonic() + cfg.get("settle", 15)
        after_fds = proc_fds(self.pid)
        while after_fds > base_fds + cfg["fd_slack"] and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            after_fds = proc_fds(self.pid)
        up.server.close()
        leftover = sorted(
            os.readlink(f"/proc/{self.pid}/fd/{n}") for n in os.listdir(f"/proc/{self.pid}/fd")
        )
        import subprocess

        sockets = subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout
        sockets = [line for line in sockets.splitlines() if f"pid={self.pid}," in line]
        return {
            "leftover_fds": leftover,
            "leftover_sockets": sockets,
            "requests": cfg["requests"],
            "connections": cfg["connections"],
            "max_client_connections_open": self.max_clients,
            "planned": dict(planned),
            "outcomes": dict(self.outcomes),
            "faults": dict(self.faults),
            "failures": self.failures,
            "upstream_requests": dict(up.stats),
            "still_serves": still_serves,
            "elapsed_s": round(elapsed, 2),
            "fds": {"before": base_fds, "peak": self.fds_peak, "after": after_fds},
            "rss_kb": {"before": base_rss, "peak": self.rss_peak, "after": proc_rss_kb(self.pid)},
        }


def main() -> int:
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    report = asyncio.run(Soak(cfg).run())
    with open(sys.argv[2], "w") as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
