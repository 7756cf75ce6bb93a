"""`mls serve`'s gRPC on the event loop REST runs on: one client's HTTP/2 connection, its streams
as calls.

grpc's own servers cost about twice REST's CPU per inference (a poller thread handing each call
to a handler thread, and the handler's hop to the inference thread and back; bench/RESULTS.md):
here a call is what a REST request is, bytes parsed on the loop, the servicer's coroutine, the
same one hop to the inference thread (or a place in a batch), the answer written from the loop.
HTTP/2 is the gateway's narrow codec (`mlservice.h2c`), which speaks gRPC's subset of it.

Every RPC is unary: a call's message is read whole (bounded by `--max-body-bytes`, gzip and
deflate accepted), parsed, answered as HEADERS + DATA + trailers in one write. `grpc-timeout`
cancels the servicer's coroutine and answers DEADLINE_EXCEEDED; a client's RST_STREAM or a lost
connection cancels it too. Connections are bounded in time, not by keepalive pings: a connection
without calls is closed after `max_connection_idle`, and every connection is asked to go away
(GOAWAY) at `max_connection_age` (jittered by 10%), closed `max_connection_age_grace` later:
that is what ends a stream whose message stops short (gRPC has no per-stream read timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from mlservice.h2c import events, grpcwire
from mlservice.h2c.events import Headers
from mlservice.h2c.grpcwire import (
    DEADLINE_EXCEEDED,
    INTERNAL,
    RESOURCE_EXHAUSTED,
    UNIMPLEMENTED,
)
from mlservice.h2c.peer import Batch, H2Peer
from mlservice.server.grpc.rpc import Method, RpcAborted, RpcContext

if TYPE_CHECKING:
    from mlservice.server.grpc.server import GrpcSettings

log = logging.getLogger("mlservice.server")
_HEAD = [(b":status", b"200"), (b"content-type", grpcwire.GRPC_CONTENT_TYPE)]
_OK = (b"grpc-status", b"0")
_ACCEPTED = b"identity,deflate,gzip"
_WBITS = {b"gzip": 31, b"deflate": 15}  # zlib's window bits for each grpc-encoding
Pairs = Sequence[tuple[bytes, bytes]]


class GrpcFront:
    """What every connection shares: the RPC table, the limits, the write batch."""

    def __init__(self, methods: dict[bytes, Method], settings: GrpcSettings) -> None:
        self.methods = methods
        self.settings = settings
        self.batch = Batch()
        self.connections: set[GrpcConnection] = set()
        self._drained: asyncio.Event | None = None

    async def drain(self, grace: float) -> None:
        """The server stops: every connection finishes its calls (for `grace` seconds at most)
        and takes no new ones."""
        for conn in list(self.connections):
            conn.go_away()
        if self._busy():
            self._drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), grace)

    def call_ended(self) -> None:
        if self._drained is not None and not self._busy():
            self._drained.set()

    def _busy(self) -> bool:
        return any(conn.calls for conn in self.connections)

    def close(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()


class GrpcConnection(H2Peer):
    def __init__(self, front: GrpcFront) -> None:
        super().__init__(client_side=False, batch=front.batch)
        self.front = front
        self.calls: dict[int, Call] = {}
        self.loop = asyncio.get_running_loop()
        self._active = self.loop.time()
        self._timers: list[asyncio.TimerHandle] = []
        self._leaving = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.front.connections.add(self)
        settings = self.front.settings
        age = settings.max_connection_age * random.uniform(0.9, 1.1)
        self._timers.append(self.loop.call_later(age, self._aged))
        self._timers.append(self.loop.call_later(settings.max_connection_idle, self._idle_check))

    def data_received(self, data: bytes) -> None:
        self._active = self.loop.time()
        super().data_received(data)

    def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.DataReceived):
            self.consumed(event.stream_id, event.flow_controlled_length)
            if (call := self.calls.get(event.stream_id)) is not None:
                call.body_part(event.data)
        elif isinstance(event, events.RequestReceived):
            call = Call(self, event.stream_id, event.headers)
            self.calls[event.stream_id] = call
            call.begin()
        elif isinstance(event, events.StreamEnded):
            if (call := self.calls.get(event.stream_id)) is not None:
                call.body_end()
        elif isinstance(event, events.StreamReset):
            if (call := self.calls.get(event.stream_id)) is not None:
                call.abandon()
        elif isinstance(event, events.WindowUpdated):
            self.window_opened(event.stream_id)
        elif isinstance(event, events.ConnectionTerminated):
            self._leaving = True
            self._close_if_done()

    # -- answers
    def answer(self, call: Call, message: bytes, trailing: Pairs) -> None:
        """HEADERS, the one message, trailers: gathered into one write."""
        self.finished(call)
        sid = call.stream_id
        if self.closed or sid not in self.h2.streams:
            return  # reset meanwhile
        framed = b"\x00" + len(message).to_bytes(4) + message
        batch = self.batch
        nested = batch.on
        batch.on = True
        self.send_headers(sid, _HEAD)
        self.send_data(sid, framed)
        self.send_trailers(sid, [_OK, *trailing])
        if not nested:
            batch.flush()
        self._close_if_done()

    def fail(self, call: Call, status: int, message: str, trailing: Pairs = ()) -> None:
        """A status without a message: gRPC's Trailers-Only answer."""
        self.finished(call)
        if self.closed or call.stream_id not in self.h2.streams:
            return
        headers = grpcwire.trailers_only(status, message, release=None) + list(trailing)
        self.send_headers(call.stream_id, headers, end=True)
        self._close_if_done()

    def refuse(self, call: Call, status: int, message: str, extra: Pairs = ()) -> None:
        """Answered before the request was read whole: the rest of it is not wanted (RST_STREAM
        NO_ERROR after the answer, as RFC 9113 8.1 allows)."""
        self.fail(call, status, message, extra)
        if call.stream_id in self.h2.streams:
            self.reset(call.stream_id, 0)

    def finished(self, call: Call) -> None:
        call.done = True
        if self.calls.pop(call.stream_id, None) is not None:
            self._active = self.loop.time()
            self.front.call_ended()

    # -- the connection's life
    def go_away(self) -> None:
        if self.closed:
            return
        self._leaving = True
        self.h2.close_connection()
        self.kick()
        self._close_if_done()

    def _aged(self) -> None:
        self.go_away()
        grace = self.front.settings.max_connection_age_grace
        self._timers.append(self.loop.call_later(grace, self._abort))

    def _idle_check(self) -> None:
        idle = self.front.settings.max_connection_idle
        quiet = self.loop.time() - self._active
        if not self.calls and quiet >= idle:
            self.go_away()
            return
        self._timers.append(self.loop.call_later(max(idle - quiet, 1.0), self._idle_check))

    def _close_if_done(self) -> None:
        if self._leaving and not self.calls and self.transport is not None:
            self.flush()
            self.transport.close()

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.front.connections.discard(self)
        for timer in self._timers:
            timer.cancel()
        for call in list(self.calls.values()):
            call.abandon()
        self.calls.clear()
        self.front.call_ended()


class Call:
    """One unary RPC: head, body, the servicer's coroutine, the answer."""

    __slots__ = ("body", "conn", "done", "headers", "method", "stream_id", "task", "timer", "wbits")

    def __init__(self, conn: GrpcConnection, stream_id: int, headers: Headers) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers = headers
        self.method: Method | None = None
        self.body = bytearray()
        self.done = False
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.wbits = 0

    def begin(self) -> None:
        path = content_type = timeout = encoding = None
        for name, value in self.headers:
            if name == b":path":
                path = value
            elif name == b"content-type":
                content_type = value
            elif name == b"grpc-timeout":
                timeout = value
            elif name == b"grpc-encoding":
                encoding = value
        conn = self.conn
        if content_type is None or not content_type.startswith(grpcwire.GRPC_CONTENT_TYPE):
            conn.refuse(self, INTERNAL, f"Content-Type {content_type!r} is not gRPC's")
            return
        method = conn.front.methods.get(path or b"")
        if method is None:
            shown = (path or b"").decode("utf-8", "replace")
            conn.refuse(self, UNIMPLEMENTED, f"Method not found: {shown}")
            return
        if encoding not in (None, b"identity"):
            wbits = _WBITS.get(encoding)
            if wbits is None:
                shown = encoding.decode("ascii", "replace")
                accepted = [(b"grpc-accept-encoding", _ACCEPTED)]
                conn.refuse(
                    self, UNIMPLEMENTED, f"Compression {shown!r} is not supported", accepted
                )
                return
            self.wbits = wbits
        self.method = method
        if timeout is not None:
            seconds = grpcwire.parse_timeout(timeout)
            if seconds is not None:
                self.timer = conn.loop.call_later(seconds, self.expire)

    def body_part(self, data: bytes) -> None:
        if self.done:
            return
        self.body += data
        limit = self.conn.front.settings.max_message_bytes
        if len(self.body) > limit + 5:
            self._too_large(int.from_bytes(self.body[1:5]), limit)

    def body_end(self) -> None:
        if self.done or self.method is None:
            return
        message = self._message()
        if message is None:
            return
        try:
            request = self.method.parse(message)
        except DecodeError as exc:
            self._fail(INTERNAL, f"The request is not a {self._rpc()} message: {exc}")
            return
        self.task = self.conn.loop.create_task(self._run(self.method, request))

    def _message(self) -> bytes | None:
        body, limit = self.body, self.conn.front.settings.max_message_bytes
        size = int.from_bytes(body[1:5]) if len(body) >= 5 else -1
        if size < 0 or len(body) != 5 + size:
            self._fail(INTERNAL, "A unary call needs exactly one whole request message.")
            return None
        if size > limit:
            self._too_large(size, limit)
            return None
        message = bytes(body[5:])
        if body[0] == 0:
            return message
        if body[0] != 1 or not self.wbits:
            self._fail(INTERNAL, "A compressed message without a grpc-encoding to read it.")
            return None
        inflater = zlib.decompressobj(self.wbits)
        try:
            plain = inflater.decompress(message, limit + 1)
        except zlib.error as exc:
            self._fail(INTERNAL, f"The compressed message does not decompress: {exc}")
            return None
        if len(plain) > limit:
            self._too_large(len(plain), limit)
            return None
        return plain

    async def _run(self, method: Method, request: object) -> None:
        context = RpcContext(self.headers)
        try:
            reply = await method.call(request, context)
            message = reply.SerializeToString()
        except RpcAborted as exc:
            self._fail(exc.code, exc.message, _trailing(context))
        except asyncio.CancelledError:
            return  # a deadline or the client: answered (or gone) already
        except Exception as exc:
            log.exception("internal error in gRPC %s", self._rpc(), exc_info=exc)
            self._fail(INTERNAL, f"Exception calling application: {exc}")
        else:
            if not self.done:
                self._stop_timer()
                self.conn.answer(self, message, _trailing(context))

    def expire(self) -> None:
        self.timer = None
        if self.done:
            return
        if self.task is not None:
            self.task.cancel()
        self.conn.refuse(self, DEADLINE_EXCEEDED, "Deadline Exceeded")

    def abandon(self) -> None:
        """The client reset the stream or went: nothing is answered."""
        self.done = True
        self._stop_timer()
        if self.task is not None:
            self.task.cancel()
        self.conn.finished(self)

    def _too_large(self, size: int, limit: int) -> None:
        message = f"Received message larger than max ({size} vs. {limit})"
        self._stop_timer()
        self.conn.refuse(self, RESOURCE_EXHAUSTED, message)

    def _fail(self, status: int, message: str, trailing: Pairs = ()) -> None:
        if self.done:
            return
        self._stop_timer()
        self.conn.fail(self, status, message, trailing)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _rpc(self) -> str:
        path = next((v for k, v in self.headers if k == b":path"), b"")
        return path.decode("utf-8", "replace").rsplit("/", 1)[-1]


def _trailing(context: RpcContext) -> Pairs:
    return [(key.encode("ascii"), _value(value)) for key, value in context.trailing]


def _value(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")
