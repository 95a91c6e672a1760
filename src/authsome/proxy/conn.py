"""One side of a proxied conversation: a blocking socket (TLS or plain) and its reader.

The proxy serves each client connection on its own thread with blocking sockets: a
request/response exchange is then a handful of system calls. TLS runs over memory BIOs
that we fill with one large recv(): OpenSSL on a socket reads each record's 5-byte
header and its body separately, two system calls per record.

Timeouts: Python's socket timeouts cost a poll() before every write and a failed read
plus a poll() before most reads. So sockets stay blocking, each operation posts a
deadline, and one watchdog thread shuts down the socket of an operation past its
deadline (the operation then fails and is reported as TimeoutError). Only a request
head that arrives in pieces is read with a socket timeout, because the proxy answers
that one with a 408 on the same connection.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time

from .http_messages import Reader
from .limits import READ_SIZE

NETWORK_ERRORS = (OSError, ssl.SSLError)  # socket.timeout is TimeoutError, an OSError
WATCH_TICK = 0.25  # how late a timeout may fire
_EOF = (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


class Closed(Exception):
    """The peer went away (EOF or a reset) where a message was expected."""


class Conn:
    __slots__ = ("_in", "_out", "closed", "deadline", "expired", "reader", "sock", "tls")

    def __init__(
        self, sock: socket.socket, reader: Reader, tls: ssl.SSLObject | None = None, bios=()
    ) -> None:
        if sock.gettimeout() is not None:
            sock.settimeout(None)
        self.sock = sock  # always the plain socket
        self.tls = tls
        self._in, self._out = bios or (None, None)
        self.reader = reader
        self.closed = False  # EOF seen
        self.deadline = 0.0  # when the operation in progress times out (0: none)
        self.expired = False  # the watchdog cut an operation short
        WATCHDOG.add(self)

    @classmethod
    def tls_over(
        cls,
        sock: socket.socket,
        reader: Reader,
        ctx: ssl.SSLContext,
        timeout: float,
        server_side: bool = False,
        server_hostname: str | None = None,
    ) -> Conn:
        """TLS over `sock`, handshake done within `timeout` s (ssl errors as wrap_socket)."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_side, server_hostname)
        sock.settimeout(timeout)
        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    if outgoing.pending:
                        sock.sendall(outgoing.read())
                    data = sock.recv(READ_SIZE)
                    if not data:
                        raise ssl.SSLEOFError("EOF during the TLS handshake") from None
                    incoming.write(data)
            if outgoing.pending:
                sock.sendall(outgoing.read())
        finally:
            sock.settimeout(None)
        return cls(sock, reader, tls, (incoming, outgoing))

    def _recv(self) -> bytes:
        """Plaintext from one socket read (or from what OpenSSL and the BIO hold)."""
        tls = self.tls
        if tls is None:
            return self.sock.recv(READ_SIZE)
        incoming = self._in
        while True:
            if incoming.pending or tls.pending():  # else skip raising SSLWantReadError
                try:
                    return tls.read(READ_SIZE)
                except ssl.SSLWantReadError:
                    pass
            if self._out.pending:  # e.g. a KeyUpdate answer
                self.sock.sendall(self._out.read())
            data = self.sock.recv(READ_SIZE)
            if not data:
                return b""  # EOF without close_notify: a truncation the reader judges
            incoming.write(data)

    def receive(self, timeout: float | None) -> bool:
        """One read into the reader; False at EOF. TimeoutError after `timeout` s."""
        if self.closed:
            return False
        try:
            data = self._timed(self._recv, timeout)
        except _EOF:
            data = b""
        if self.expired:
            raise TimeoutError()
        if not data:
            self.closed = True
            self.reader.closed()
            return False
        self.reader.feed(data)
        return True

    def read_plain(self, timeout: float | None = None) -> bytes:
        """Bytes as they come (decrypted), bypassing the HTTP reader; b"" at EOF."""
        try:
            return self._timed(self._recv, timeout)
        except _EOF:
            return b""

    def next_event(self, timeout: float | None = None):
        """The next event; Closed at EOF with nothing queued."""
        events = self.reader.events
        while not events:
            if not self.receive(timeout) and not events:
                raise Closed()
        return events.popleft()

    def next_head(self, idle: float, header: float):
        """The next message's head: its first byte within `idle` seconds, the rest within
        `header` seconds of that; None at a clean EOF between messages. TimeoutError
        with the connection still usable for a 408 if the head stalled."""
        events = self.reader.events
        if not events and not self.receive(idle) and not events:
            if self.reader.in_message:
                raise Closed()
            return None
        if not events:  # a head begun, not finished: rare, and worth its system calls
            deadline = time.monotonic() + header
            try:
                while not events:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError()
                    self.sock.settimeout(left)
                    try:
                        data = self._recv()
                    except _EOF:
                        data = b""
                    if not data:
                        self.closed = True
                        self.reader.closed()
                        raise Closed()
                    self.reader.feed(data)
            finally:
                self.sock.settimeout(None)
        return events.popleft()

    def waiting(self) -> bool:
        """Something to read right now: queued events, bytes TLS holds, or bytes (or
        EOF) on the socket. One system call at most (which, over TLS, keeps the bytes)."""
        if self.readable_now() or self.closed:
            return True
        if self.tls is None:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0)
            except (OSError, ValueError):
                return True
            return bool(ready)
        try:
            data = self.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True  # the next read reports it
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()
        return True

    def poll(self) -> bool:
        """Read what has arrived, without waiting: True if that is a message (or EOF).
        A readable TLS socket may hold only protocol records such as session tickets."""
        if not self.waiting():
            return False
        if self.tls is None:
            self.receive(None)  # readable: does not block
            return bool(self.reader.events) or self.closed
        try:
            data = self.tls.read(READ_SIZE)
        except ssl.SSLWantReadError:
            return bool(self.reader.events)
        except _EOF:
            data = b""
        if data:
            self.reader.feed(data)
        else:
            self.closed = True
            self.reader.closed()
        return bool(self.reader.events) or self.closed

    def readable_now(self) -> bool:
        """Bytes are waiting without a system call: queued events, or TLS data held."""
        if self.reader.events:
            return True
        tls = self.tls
        return tls is not None and (tls.pending() > 0 or self._in.pending > 0)

    def send(self, data: bytes, timeout: float | None) -> None:
        if data:
            self._timed(self._send, timeout, data)

    def _send(self, data: bytes) -> None:
        if self.tls is not None:
            self.tls.write(data)
            data = self._out.read()
        self.sock.sendall(data)

    def _timed(self, operation, timeout: float | None, *args):
        """`operation(*args)` under the watchdog: TimeoutError if it cut it short."""
        self.deadline = time.monotonic() + timeout if timeout else 0.0
        try:
            return operation(*args)
        except OSError:
            if self.expired:
                raise TimeoutError() from None
            raise
        finally:
            self.deadline = 0.0

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        """Wake any thread blocked on this socket (the owner still closes it)."""
        try:
            self.sock.shutdown(how)
        except OSError:
            pass

    def close(self) -> None:
        """Close, with a TLS close_notify where we can send one without waiting."""
        WATCHDOG.discard(self)
        sock = self.sock
        if self.tls is not None and not self.expired:
            try:
                self.tls.unwrap()
            except (OSError, ValueError):
                pass
            try:
                if self._out.pending:
                    sock.send(self._out.read(), socket.MSG_DONTWAIT)
            except OSError:
                pass
        try:
            sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Close now: the peer sees a reset or EOF; the fd is released at once."""
        WATCHDOG.discard(self)
        try:
            self.sock.close()
        except OSError:
            pass


class Watchdog:
    """Cuts off operations past their deadline: one thread for the whole process."""

    def __init__(self, tick: float = WATCH_TICK) -> None:
        self.tick = tick
        self._conns: set[Conn] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, conn: Conn) -> None:
        with self._lock:
            self._conns.add(conn)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="authsome-proxy-timeouts", daemon=True
                )
                self._thread.start()

    def discard(self, conn: Conn) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _run(self) -> None:
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self._lock:
                due = [c for c in self._conns if c.deadline and c.deadline < now]
            for conn in due:
                conn.expired = True
                conn.shutdown()


WATCHDOG = Watchdog()
