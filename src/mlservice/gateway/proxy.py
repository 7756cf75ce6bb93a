"""The client side: an HTTP/1.1 server protocol (httptools) that turns requests into exchanges.

Requests on one connection are answered in order; a pipelined request waits, parsed, behind
the one being answered. Reading pauses while the queue is long or an upstream can't keep up.
A request head, and a chunked body's trailer, are bounded in bytes (431): the parser holds
either whole until it ends, so an endless one would otherwise grow without limit. A head's
fields are counted too. A head must arrive within `header_timeout` and a body may not stall
for `body_timeout` (408): `Core` sweeps the connections about once a second, so a read only
bumps a counter.
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


class _Refusal(Exception):
    """Raised in a parser callback to stop parsing and answer `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "_closing",
        "_discarding",
        "_ended_in_read",
        "_flush",
        "_head_bytes",
        "_head_since",
        "_headers",
        "_heads",
        "_heads_seen",
        "_linger",
        "_out",
        "_parser",
        "_paused",
        "_quiet_since",
        "_reads",
        "_reads_seen",
        "_receiving",
        "_trailer_bytes",
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
        self._head_bytes = -1  # bytes of the unfinished head read so far; -1 outside a head
        self._ended_in_read = False  # a request ended in the read being parsed
        # Bytes since a chunk's size line, while no body byte followed it (the last chunk's
        # trailer); -1 outside one, -2 when it began in the read being parsed.
        self._trailer_bytes = -1
        self._discarding = False  # closing: what still arrives is dropped unparsed
        self._linger: asyncio.TimerHandle | None = None
        # For the sweep: reads and heads so far, what it saw last, and since when.
        self._reads = self._reads_seen = self._heads = self._heads_seen = 0
        self._quiet_since = self._head_since = core.loop.time()
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
        if self._discarding:
            return
        self._reads += 1
        self.corked = True
        self._ended_in_read = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(501, "The gateway does not support protocol upgrades.")
        except httptools.HttpParserError as exc:
            if isinstance(refusal := exc.__context__, _Refusal):
                self._refuse(refusal.status, refusal.message)
            else:
                self._refuse(400, f"Malformed HTTP request: {exc}.")
        finally:
            self.corked = False
            if self._flush:
                flush, self._flush = self._flush, []
                for exchange in flush:
                    exchange.flush_upstream()
        if self._head_bytes >= 0 and not self._discarding:
            self._count_head(len(data))
        elif self._trailer_bytes != -1 and not self._discarding:
            self._count_trailer(len(data))

    def _count_head(self, size: int) -> None:
        """A head is still unfinished after this read: count it, refuse it past the limit.

        A head that began after another request ended in the same read is not counted for
        that read (where it began is unknown): it may overrun the limit by one read at most.
        """
        if not self._ended_in_read:
            self._head_bytes += size
        limit = self.core.config.max_header_bytes
        if self._head_bytes > limit:
            self._refuse(431, f"The request head is larger than {limit} bytes.")

    def _count_trailer(self, size: int) -> None:
        """Like a head, a trailer is held whole by the parser: bounded the same way (the read
        it began in is not counted, so it may overrun by one read)."""
        self._trailer_bytes = 0 if self._trailer_bytes == -2 else self._trailer_bytes + size
        limit = self.core.config.max_header_bytes
        if self._trailer_bytes > limit:
            self._refuse(431, f"The request's chunked trailer is larger than {limit} bytes.")

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.connections.discard(self)
        self._closing = True
        if self._linger is not None:
            self._linger.cancel()
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
        self._head_bytes = 0
        self._heads += 1

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_bytes = -1
        if len(self._headers) > self.core.config.max_headers:
            limit = self.core.config.max_headers
            raise _Refusal(431, f"The request has more than {limit} header fields.")
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

    def on_chunk_header(self) -> None:
        self._trailer_bytes = -2

    def on_chunk_complete(self) -> None:
        self._trailer_bytes = -1

    def on_body(self, body: bytes) -> None:
        self._trailer_bytes = -1
        if self._receiving is not None:
            self._receiving.request_body(body)

    def on_message_complete(self) -> None:
        self._ended_in_read = True
        self._trailer_bytes = -1
        exchange, self._receiving = self._receiving, None
        if exchange is not None:
            exchange.request_complete()

    # -- read timeouts
    def sweep(self, now: float) -> None:
        """About once a second: refuse a client that stopped sending in the middle of a request
        (a paused connection is waiting for us, not stalling)."""
        if self._head_bytes < 0 and self._receiving is None:
            return  # between requests: nothing to time out (counters are caught up later)
        if self._reads != self._reads_seen or self._paused:
            self._reads_seen = self._reads
            self._quiet_since = now
        if self._heads != self._heads_seen:
            self._heads_seen = self._heads
            self._head_since = now
        if self._discarding:
            return  # closing already, bounded by the linger time
        config = self.core.config
        if self._head_bytes >= 0:
            # A head behind a request still being answered waits its turn (its clock runs on).
            if self.current is None and now - self._head_since > config.header_timeout:
                timeout = config.header_timeout
                self._refuse(408, f"The request head did not arrive within {timeout:g}s.")
            return
        exchange = self._receiving
        if exchange is None or now - self._quiet_since <= config.body_timeout:
            return
        if exchange.finished:
            self.shut()  # answered already: only the unread rest was awaited
        elif exchange is self.current and exchange.response is None:
            exchange.keep_alive = False
            exchange.reject(
                408, f"The request body stalled: nothing arrived for {config.body_timeout:g}s."
            )

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

    def shut(self) -> None:
        """Close after answering a request that was not read to its end: send what is
        written and a FIN, drop what the client still sends, close after the linger time.
        Closing at once with unread bytes would reset the connection, and a reset can destroy
        the answer in the client's buffer before it is read."""
        self.uncork()
        transport = self.transport
        if self._discarding or transport is None or transport.is_closing():
            return
        self._closing = self._discarding = True
        if transport.can_write_eof():
            transport.write_eof()
        if self._paused:
            self._paused = 0
            transport.resume_reading()
        self._linger = self.core.loop.call_later(self.core.config.linger_seconds, self.abort)

    def abort(self) -> None:
        self._out = None
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    def _refuse(self, status: int, message: str) -> None:
        """The client's bytes can't be parsed, or break a limit: answer if the answer would be
        in order (it would answer the request being read), else cut the connection."""
        current = self.current
        if current is None:
            self.write(httpwire.error_response(status, message, close=True))
            self.core.unrouted(status)
            self.shut()
        elif current is self._receiving and current.response is None and not current.finished:
            current.keep_alive = False
            current.reject(status, message)
            self.shut()
        else:
            self.abort()  # mid-answer, or the bad bytes belong to a later request
