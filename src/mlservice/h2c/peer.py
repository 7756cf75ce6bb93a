"""One HTTP/2 connection's sending half, shared by both ends of the h2c proxy: bodies that
wait for flow-control window, and writes gathered while a read is being handled.

`H2Codec` (codec.py, gRPC's subset of HTTP/2) does the framing and HPACK; this class owns
the socket side.
Our receive windows are opened wide at once (2 GiB - 1, the maximum) and refilled as data is
consumed, so a peer is never stalled on our account; what we send waits, per stream, for the
window the peer grants (`WindowUpdated`), trailers after the body they follow.
"""

from __future__ import annotations

import asyncio
from typing import cast

import h2.exceptions

from mlservice.h2c.codec import H2Codec
from mlservice.h2c.events import Event, Headers

H2Error = (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError)


class Batch:
    """Writes gathered while one read is handled, sent once it is (one send per connection)."""

    __slots__ = ("dirty", "on")

    def __init__(self) -> None:
        self.on = False
        self.dirty: list[H2Peer] = []

    def flush(self) -> None:
        self.on = False
        dirty, self.dirty = self.dirty, []
        for peer in dirty:
            peer.flush()


class _Held:
    __slots__ = ("data", "end", "trailers")

    def __init__(self) -> None:
        self.data = bytearray()
        self.end = False
        self.trailers: Headers | None = None


class H2Peer(asyncio.Protocol):
    def __init__(self, *, client_side: bool, batch: Batch) -> None:
        self.h2 = H2Codec(client_side=client_side)
        self.batch = batch
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._held: dict[int, _Held] = {}
        self._dirty = False

    def start(self) -> None:
        """Our preface and settings, and the connection's receive window opened wide."""
        self.h2.initiate_connection()
        self.kick()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.start()

    # -- receiving
    def data_received(self, data: bytes) -> None:
        """Frames in, `on_event` for each event; what the events send goes out in one write,
        after the read (or after the outer read, when one peer's events feed another's)."""
        batch = self.batch
        outer = batch.on
        batch.on = True
        try:
            try:
                events = self.h2.receive_data(data)
            except H2Error as exc:
                self.on_protocol_error(exc)
                return
            for event in events:
                self.on_event(event)
        finally:
            if not outer:
                self.flush()
                batch.flush()

    def on_event(self, event: Event) -> None:
        raise NotImplementedError

    def on_protocol_error(self, exc: Exception) -> None:
        """The peer broke HTTP/2: the codec framed a GOAWAY saying why; send it, then close."""
        self.flush()
        if self.transport is not None:
            self.transport.close()

    # -- sending
    def kick(self) -> None:
        """Send what `h2` has framed: now, or when the read being handled is done."""
        if self.batch.on:
            if not self._dirty:
                self._dirty = True
                self.batch.dirty.append(self)
        else:
            self.flush()

    def flush(self) -> None:
        self._dirty = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def send_headers(self, stream_id: int, headers: Headers, *, end: bool = False) -> None:
        try:
            self.h2.send_headers(stream_id, headers, end_stream=end)
        except H2Error:
            return  # the peer reset the stream meanwhile: its reset event ends the call
        self.kick()

    def send_data(self, stream_id: int, data: bytes, *, end: bool = False) -> None:
        held = self._held.get(stream_id)
        if held is None:
            h2c = self.h2
            try:
                room = min(h2c.local_flow_control_window(stream_id), h2c.max_outbound_frame_size)
                if len(data) <= room:  # the usual case: all of it fits, nothing is held
                    h2c.send_data(stream_id, data, end_stream=end)
                    self.kick()
                    return
            except H2Error:
                return  # reset or closed meanwhile
            held = self._held[stream_id] = _Held()
        held.data += data
        held.end = held.end or end
        self._drain(stream_id, held)

    def send_trailers(self, stream_id: int, trailers: Headers) -> None:
        """Trailers end the stream, after whatever body is still held for window."""
        held = self._held.get(stream_id)
        if held is None:
            self.send_headers(stream_id, trailers, end=True)
            return
        held.trailers = trailers
        self._drain(stream_id, held)

    def reset(self, stream_id: int, code: int = 8) -> None:
        """RST_STREAM (8: CANCEL); what was held for the stream is dropped."""
        self._held.pop(stream_id, None)
        try:
            self.h2.reset_stream(stream_id, error_code=code)
        except H2Error:
            return
        self.kick()

    def forget(self, stream_id: int) -> None:
        self._held.pop(stream_id, None)

    def _drain(self, stream_id: int, held: _Held) -> None:
        h2c = self.h2
        ended = False
        try:
            while held.data:
                room = min(h2c.local_flow_control_window(stream_id), h2c.max_outbound_frame_size)
                if room <= 0:
                    self.kick()
                    return  # the rest goes on `window_opened`
                piece = bytes(held.data[:room])
                del held.data[:room]
                ended = not held.data and held.end and held.trailers is None
                h2c.send_data(stream_id, piece, end_stream=ended)
            if held.trailers is not None:
                h2c.send_headers(stream_id, held.trailers, end_stream=True)
            elif held.end and not ended:
                h2c.end_stream(stream_id)
            elif not held.end:
                self.kick()
                return  # more body to come: keep the (empty) entry for it
        except H2Error:
            pass  # reset or closed meanwhile
        self._held.pop(stream_id, None)
        self.kick()

    def window_opened(self, stream_id: int) -> None:
        """A WINDOW_UPDATE: resume the held bodies it may unblock (0: the connection's)."""
        if stream_id:
            held = self._held.get(stream_id)
            if held is not None:
                self._drain(stream_id, held)
            return
        for sid, held in list(self._held.items()):
            self._drain(sid, held)

    def consumed(self, stream_id: int, size: int) -> None:
        """Data handed on: give the peer its window back (h2 batches the updates)."""
        if size:
            try:
                self.h2.acknowledge_received_data(size, stream_id)
            except H2Error:
                return
