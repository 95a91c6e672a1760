"""One side of a proxied conversation: a blocking socket (TLS or plain) and its reader.

The proxy serves each client connection on its own thread with blocking sockets: a
request/response exchange is then a handful of system calls, with OpenSSL working on
the sockets directly (no event loop, no memory BIOs). Timeouts are socket timeouts,
set only when they change (each change is a system call).
"""

from __future__ import annotations

import socket
import ssl
import time

from .limits import READ_SIZE
from .wire import Reader

NETWORK_ERRORS = (OSError, ssl.SSLError)  # socket.timeout is TimeoutError, an OSError


class Closed(Exception):
    """The peer went away (EOF or a reset) where a message was expected."""


class Conn:
    __slots__ = ("_timeout", "closed", "reader", "sock")

    def __init__(self, sock: socket.socket, reader: Reader) -> None:
        self.sock = sock
        self.reader = reader
        self.closed = False  # EOF seen
        self._timeout: float | None = sock.gettimeout()

    def _set_timeout(self, timeout: float | None) -> None:
        if timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout

    def receive(self, timeout: float | None) -> bool:
        """One read into the reader; False at EOF. TimeoutError after `timeout` s."""
        if self.closed:
            return False
        self._set_timeout(timeout)
        try:
            data = self.sock.recv(READ_SIZE)
        except (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        if not data:
            self.closed = True
            self.reader.closed()
            return False
        self.reader.feed(data)
        return True

    def next_event(self, timeout: float | None = None):
        """The next event; Closed at EOF with nothing queued."""
        events = self.reader.events
        while not events:
            if not self.receive(timeout) and not events:
                raise Closed()
        return events.popleft()

    def next_head(self, idle: float, header: float):
        """The next message's head: its first byte within `idle` seconds, the rest within
        `header` seconds of that; None at a clean EOF between messages."""
        events = self.reader.events
        if events:
            return events.popleft()
        deadline = time.monotonic() + idle
        started = False
        while not events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            if not self.receive(left):
                if events:
                    break
                if self.reader.in_message:
                    raise Closed()
                return None
            if not started and self.reader.in_message:
                started = True
                deadline = min(deadline, time.monotonic() + header)
        return events.popleft()

    def poll(self) -> bool:
        """Read what has arrived, without waiting: True if that is a message (or EOF).
        A readable TLS socket may hold only protocol records such as session tickets."""
        try:
            self.receive(0.0)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        return bool(self.reader.events) or self.closed

    def readable_now(self) -> bool:
        """Bytes are waiting: queued events, or decrypted data OpenSSL holds."""
        if self.reader.events:
            return True
        pending = getattr(self.sock, "pending", None)
        return bool(pending and pending())

    def send(self, data: bytes, timeout: float | None) -> None:
        if data:
            self._set_timeout(timeout)
            self.sock.sendall(data)

    def shutdown(self) -> None:
        """Wake any thread blocked on this socket (the owner still closes it)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """Close, with a TLS close_notify where we can send one without waiting."""
        sock = self.sock
        if isinstance(sock, ssl.SSLSocket):
            try:
                sock.settimeout(0)
                sock.unwrap()
            except (OSError, ValueError):
                pass
        try:
            sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Close now: the peer sees a reset or EOF; the fd is released at once."""
        try:
            self.sock.close()
        except OSError:
            pass
