"""The client side: an HTTP/1.1 server protocol (httptools) that turns requests into exchanges.

Requests on one connection are answered in order; a pipelined request waits, parsed, behind
the one being answered. Reading pauses while the queue is long or an upstream can't keep up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from mlservice.gateway import httpwire
from mlservice.gateway.exchange import Exchange

if TYPE_CHECKING:
    from mlservice.gateway.core import Core

MAX_PIPELINED = 16
_FLOW, _PIPELINE = 1, 2  # reasons to pause reading, as bits


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "_closing",
        "_flush",
        "_headers",
        "_out",
        "_parser",
        "_paused",
        "_receiving",
        "_url",
        "core",
        "corked",
        "current",
        "pending",
        "transport",
    )

    def __init__(self, core: Core) -> None:
        self.core = core
        self.transport: asyncio.Transport | None = None
        self.current: Exchange | None = None
        self.pending: deque[Exchange] = deque()
        self._parser = httptools.HttpRequestParser(self)
        self._receiving: Exchange | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._paused = 0
        self._closing = False
        # While a read is parsed, exchanges gather their writes to replicas (`corked`) and
        # are flushed after; while a replica's read is parsed, our writes gather in `_out`.
        self.corked = False
        self._flush: list[Exchange] = []
        self._out: list[bytes] | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.core.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.corked = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(501, "The gateway does not support protocol upgrades.")
        except httptools.HttpParserError as exc:
            self._refuse(400, f"Malformed HTTP request: {exc}.")
        finally:
            self.corked = False
            if self._flush:
                flush, self._flush = self._flush, []
                for exchange in flush:
                    exchange.flush_upstream()

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.connections.discard(self)
        self._closing = True
        exchanges = [self.current, *self.pending]
        self.current = None
        self.pending.clear()
        for exchange in exchanges:
            if exchange is not None:
                exchange.client_gone()

    def pause_writing(self) -> None:
        if self.current is not None:
            self.current.client_paused(True)

    def resume_writing(self) -> None:
        if self.current is not None:
            self.current.client_paused(False)

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        exchange = Exchange(
            self,
            parser.get_method(),
            self._url,
            self._headers,
            keep_alive=parser.should_keep_alive(),
            http11=parser.get_http_version() == "1.1",
        )
        self._receiving = exchange
        if self.current is None:
            self.current = exchange
            exchange.begin()
        else:
            self.pending.append(exchange)
            if len(self.pending) >= MAX_PIPELINED:
                self.set_reading(True, reason=_PIPELINE)

    def on_body(self, body: bytes) -> None:
        if self._receiving is not None:
            self._receiving.request_body(body)

    def on_message_complete(self) -> None:
        exchange, self._receiving = self._receiving, None
        if exchange is not None:
            exchange.request_complete()

    # -- used by exchanges
    def write(self, data: bytes) -> None:
        if self._out is not None:
            self._out.append(data)
        elif self.transport is not None and not self._closing:
            self.transport.write(data)

    def cork(self) -> None:
        if self._out is None:
            self._out = []

    def uncork(self) -> None:
        out, self._out = self._out, None
        if out:
            self.write(b"".join(out))

    def flush_later(self, exchange: Exchange) -> None:
        self._flush.append(exchange)

    def exchange_done(self, exchange: Exchange) -> None:
        """`exchange` is answered and fully read: start the next one, or close."""
        if exchange is not self.current:
            return
        if not exchange.keep_alive:
            self.close()
            return
        self.current = self.pending.popleft() if self.pending else None
        if self._paused & _PIPELINE and len(self.pending) < MAX_PIPELINED:
            self.set_reading(False, reason=_PIPELINE)
        if self.current is not None:
            self.current.begin()

    def set_reading(self, paused: bool, *, reason: int = _FLOW) -> None:
        before = self._paused
        self._paused = before | reason if paused else before & ~reason
        transport = self.transport
        if transport is None or self._closing or bool(before) == bool(self._paused):
            return
        if self._paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def close(self) -> None:
        """Close once what is written has gone out."""
        self.uncork()
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._out = None
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    def _refuse(self, status: int, message: str) -> None:
        if self.current is not None and self.current.response is not None:
            self.abort()  # mid-answer: nothing sensible can be said any more
            return
        self.write(httpwire.error_response(status, message, close=True))
        self.core.unrouted(status)
        self.close()
