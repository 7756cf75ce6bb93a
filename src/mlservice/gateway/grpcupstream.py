"""The h2c proxy's side toward replicas: HTTP/2 connections to their gRPC ports, multiplexed.

Calls to one replica share one connection (a second opens only when the first has as many
streams as the replica allows), as gRPC clients do; a connection that fails or says GOAWAY
takes no new streams, and the calls on it end UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from mlservice.h2c import events
from mlservice.h2c.events import Headers
from mlservice.h2c.peer import Batch, H2Peer


class Stream(Protocol):
    """A call as its upstream connection sees it."""

    def response_headers(self, headers: Headers) -> None: ...

    def response_data(self, data: bytes) -> None: ...

    def response_trailers(self, trailers: Headers) -> None: ...

    def response_end(self) -> None: ...

    def upstream_failed(self, reason: str) -> None: ...


class GrpcUpstream(H2Peer):
    def __init__(self, links: UpstreamLinks, *, batch: Batch) -> None:
        super().__init__(client_side=True, batch=batch)
        self.links = links
        self.streams: dict[int, Stream] = {}
        self.usable = True  # takes new streams (not after GOAWAY or a failure)

    @property
    def full(self) -> bool:
        h2c = self.h2
        return h2c.open_outbound_streams >= h2c.remote_settings.max_concurrent_streams

    def open(self, stream: Stream, headers: Headers, *, end: bool) -> int:
        """A new stream for `stream`'s call, its request head sent; the stream id. Raises
        h2's errors (`H2Error`) when the connection cannot take one (closing, out of ids)."""
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, headers, end_stream=end)
        self.streams[stream_id] = stream
        self.kick()
        return stream_id

    def close_stream(self, stream_id: int, *, cancel: bool) -> None:
        """The call is done with the stream: forget it; `cancel` resets it if still open."""
        if self.streams.pop(stream_id, None) is not None and cancel:
            self.reset(stream_id)
        self.forget(stream_id)

    def on_protocol_error(self, exc: Exception) -> None:
        self.fail(f"HTTP/2 protocol error from the replica: {exc}")

    def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.DataReceived):
            self.consumed(event.stream_id, event.flow_controlled_length)
            if (stream := self.streams.get(event.stream_id)) is not None:
                stream.response_data(event.data)
        elif isinstance(event, events.ResponseReceived):
            if event.stream_ended:  # Trailers-Only: the whole answer is this block
                if (stream := self.streams.pop(event.stream_id, None)) is not None:
                    self.forget(event.stream_id)
                    stream.response_trailers(event.headers)
            elif (stream := self.streams.get(event.stream_id)) is not None:
                stream.response_headers(event.headers)
        elif isinstance(event, events.TrailersReceived):
            if (stream := self.streams.pop(event.stream_id, None)) is not None:
                self.forget(event.stream_id)
                stream.response_trailers(event.headers)
        elif isinstance(event, events.StreamEnded):
            if (stream := self.streams.pop(event.stream_id, None)) is not None:
                self.forget(event.stream_id)
                stream.response_end()
        elif isinstance(event, events.StreamReset):
            if (stream := self.streams.pop(event.stream_id, None)) is not None:
                self.forget(event.stream_id)
                stream.upstream_failed(f"the replica reset the stream (code {event.error_code})")
        elif isinstance(event, events.WindowUpdated):
            self.window_opened(event.stream_id)
        elif isinstance(event, events.ConnectionTerminated):
            self.usable = False
            last = event.last_stream_id or 0
            for sid in [s for s in self.streams if s > last]:
                self.streams.pop(sid).upstream_failed("the replica closed the connection")
            if not self.streams and self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail("the replica closed the connection")

    def fail(self, reason: str) -> None:
        self.usable = False
        self.closed = True
        self.links.discard(self)
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.upstream_failed(reason)
        if self.transport is not None:
            self.transport.abort()


class UpstreamLinks:
    """The connections to every replica's gRPC port, by address."""

    def __init__(self, *, batch: Batch, connect_timeout: float) -> None:
        self.batch = batch
        self.connect_timeout = connect_timeout
        self.by_address: dict[str, list[GrpcUpstream]] = {}
        self._connecting: dict[str, asyncio.Future[GrpcUpstream]] = {}

    def ready(self, address: str) -> GrpcUpstream | None:
        """An open connection to `address` with room for a stream, if there is one."""
        for conn in self.by_address.get(address, ()):
            if conn.usable and not conn.full:
                return conn
        return None

    async def connect(self, address: str) -> GrpcUpstream:
        """A new connection (callers wanting one at once share a connect in progress)."""
        pending = self._connecting.get(address)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = self._connecting[address] = loop.create_future()
            try:
                conn = await self._open(address)
            except (OSError, TimeoutError) as exc:
                pending.set_exception(exc)
                pending.exception()  # read, so an unshared failure is not reported as lost
                raise
            finally:
                del self._connecting[address]
            pending.set_result(conn)
            return conn
        return await asyncio.shield(pending)

    async def _open(self, address: str) -> GrpcUpstream:
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout):
            _, conn = await loop.create_connection(
                lambda: GrpcUpstream(self, batch=self.batch), host, int(port)
            )
        self.by_address.setdefault(address, []).append(conn)
        return conn

    def discard(self, conn: GrpcUpstream) -> None:
        for address, conns in list(self.by_address.items()):
            if conn in conns:
                conns.remove(conn)
                if not conns:
                    del self.by_address[address]

    def close(self) -> None:
        for conns in list(self.by_address.values()):
            for conn in list(conns):
                conn.fail("the gateway is stopping")
        self.by_address.clear()
