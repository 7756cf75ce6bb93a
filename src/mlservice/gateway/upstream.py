"""Connections to replicas: an HTTP/1.1 client protocol and a keep-alive pool per replica.

An `UpstreamConnection` carries one exchange at a time and reports the response to it through
the `Receiver` methods; between exchanges it waits, idle, in its replica's `ConnectionPool`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, cast

import httptools


class Receiver(Protocol):
    """What an exchange hears from its upstream connection."""

    def response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """The status line and headers arrived."""

    def response_body(self, chunk: bytes) -> None:
        """A piece of the (de-chunked) body arrived."""

    def response_complete(self, keep_alive: bool) -> None:
        """The response ended; `keep_alive` says whether the connection can carry another."""

    def upstream_lost(self, exc: Exception | None) -> None:
        """The connection closed before the response ended."""

    def upstream_paused(self, paused: bool) -> None:
        """The replica reads slower than we send: stop or resume reading the client."""

    def batch(self, on: bool) -> None:
        """A read is being parsed (True) or done (False): writes between may be gathered."""


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "_headers",
        "_parser",
        "_reason",
        "answering",
        "head_only",
        "idle_since",
        "pool",
        "receiver",
        "transport",
    )

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.receiver: Receiver | None = None
        self.head_only = False  # a HEAD request: the response has no body whatever its headers
        self.answering = False  # a byte of the current exchange's answer arrived
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        receiver = self.receiver
        if receiver is not None:
            receiver.batch(True)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.abort(exc)
        finally:
            if receiver is not None:
                receiver.batch(False)

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.discard(self)
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            receiver.upstream_lost(exc)

    def pause_writing(self) -> None:
        if self.receiver is not None:
            self.receiver.upstream_paused(True)

    def resume_writing(self) -> None:
        if self.receiver is not None:
            self.receiver.upstream_paused(False)

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.answering = True
        self._headers = []
        self._reason = b""

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200 and status != 101:
            return  # an interim answer (100 Continue): the real one follows
        if self.receiver is not None:
            self.receiver.response_head(status, self._reason, self._headers)
        if self.head_only:
            self._parser = httptools.HttpResponseParser(self)  # no body is coming: start over
            self._finish(keep_alive=True)

    def on_body(self, body: bytes) -> None:
        if self.receiver is not None:
            self.receiver.response_body(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            return
        self._finish(keep_alive=self._parser.should_keep_alive())

    # -- used by the exchange
    def start(self, receiver: Receiver, *, head_only: bool) -> None:
        self.receiver = receiver
        self.head_only = head_only
        self.answering = False

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def set_reading(self, paused: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if paused:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def abort(self, exc: Exception | None = None) -> None:
        """Drop the connection now (a broken or abandoned exchange)."""
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, *, keep_alive: bool) -> None:
        receiver, self.receiver = self.receiver, None
        if receiver is not None:
            receiver.response_complete(keep_alive)


class ConnectionPool:
    """Idle keep-alive connections to one replica, most recently used first."""

    __slots__ = ("_idle", "closed", "host", "idle_seconds", "limit", "port")

    def __init__(self, host: str, port: int, *, idle_seconds: float, limit: int = 64) -> None:
        self.host = host
        self.port = port
        self.idle_seconds = idle_seconds
        self.limit = limit
        self.closed = False
        self._idle: list[UpstreamConnection] = []

    def take(self) -> UpstreamConnection | None:
        """A live idle connection, fresh enough that the replica has not timed it out."""
        oldest = time.monotonic() - self.idle_seconds
        while self._idle:
            conn = self._idle.pop()
            transport = conn.transport
            if transport is not None and not transport.is_closing() and conn.idle_since > oldest:
                return conn
            conn.abort()
        return None

    def give(self, conn: UpstreamConnection) -> None:
        transport = conn.transport
        if self.closed or len(self._idle) >= self.limit or transport is None:
            conn.abort()
            return
        if transport.is_closing():
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def discard(self, conn: UpstreamConnection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)

    def close(self) -> None:
        """No more reuse: close what is idle; busy connections close when their exchange ends."""
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def connect(self, *, within: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            _, protocol = await loop.create_connection(
                lambda: UpstreamConnection(self), self.host, self.port
            )
        return protocol
