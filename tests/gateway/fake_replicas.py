"""Replicas that misbehave on purpose, on raw sockets in a thread: they read a request's head
(and some of its body), then answer or not, and never read again."""

from __future__ import annotations

import contextlib
import socket
import threading


class RawReplica:
    """Reads a head and `read` bytes after it, sends `answer` (b"": none), then closes the
    connection (`close`) or holds it open unread until `close()`."""

    def __init__(self, answer: bytes = b"", *, read: int = 0, close: bool = True) -> None:
        self.answer = answer
        self.read = read
        self.close_after = close
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.accepted += 1
                with contextlib.suppress(OSError):
                    self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        got = b""
        while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < self.read:
            data = conn.recv(0x10000)
            if not data:
                break
            got += data
        if self.answer:
            conn.sendall(self.answer)
        if self.close_after:
            conn.close()
        else:
            self._held.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self._held:
            conn.close()
