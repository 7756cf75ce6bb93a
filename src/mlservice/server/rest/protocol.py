"""uvicorn's httptools protocol with the two limits it lacks: the header block and a read deadline.

httptools keeps an unfinished header block in memory however large it grows (concatenated chunk
by chunk), and nothing bounds how long a request may take to arrive: a Content-Length that is
never fully sent holds its connection and task for as long as the client likes. Here the head
of a request is counted as it arrives, and past `max_header_bytes` the answer is 431 and the
connection is closed; and a request gets `read_timeout` seconds from its first byte to its last,
past which the answer is 408 (or, once a response has started, nothing) and the connection is
closed. The deadline is armed only while a request is incomplete after a read, so a request
that arrives in one read pays for no timer.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from mlservice.server.config import DEFAULT_MAX_HEADER_BYTES, DEFAULT_READ_TIMEOUT


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """Pass `configured(...)`, a subclass carrying the limits, as uvicorn's `http`."""

    max_header_bytes: ClassVar[int] = DEFAULT_MAX_HEADER_BYTES
    read_timeout: ClassVar[float] = DEFAULT_READ_TIMEOUT

    @classmethod
    def configured(
        cls, *, max_header_bytes: int, read_timeout: float
    ) -> type[LimitedHttpToolsProtocol]:
        limits = {"max_header_bytes": max_header_bytes, "read_timeout": read_timeout}
        return type(cls.__name__, (cls,), limits)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # no request, or one whose headers are not complete yet
        self._head_bytes = 0
        self._reading = False  # a request has begun and its body is not complete
        self._deadline: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            self._disarm()
        elif self._in_head and self._head_bytes > self.max_header_bytes:
            self._refuse(
                431, f"The request header block exceeds the limit of {self.max_header_bytes} bytes."
            )
        elif self._reading and self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._timed_out)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._in_head = True
        self._head_bytes = 0
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = None if self._in_head else self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()  # an answer is under way or sent: only the rest is dropped
            return
        self._refuse(408, f"The request did not arrive within {self.read_timeout:g} seconds.")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with an error body, close, and silence the app's own answer."""
        self._disarm()
        cycle = None if self._in_head else self.cycle
        if cycle is not None:
            # The app may still be waiting for the body: it sees a disconnect, and what it
            # sends afterwards goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
        body = orjson.dumps({"error": message})
        head = [STATUS_LINE[status]]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
