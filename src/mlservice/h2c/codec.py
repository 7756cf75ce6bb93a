"""A narrow HTTP/2 connection for gRPC (the gateway's h2c proxy, `mls serve`'s server): the
frames gRPC uses, and nothing else.

It stands where `h2.connection.H2Connection` stood, with the few methods the proxy called and
events of the same names out, at a fraction of the Python calls per frame: the general library
runs every frame through objects, a stream state machine and header validation, and HPACK-
encodes with its dynamic table; gRPC's calls need none of that. Frames: DATA, HEADERS and
CONTINUATION, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE, GOAWAY (PRIORITY and unknown types
are skipped; PUSH_PROMISE is an error: we disable push). Headers are decoded with `hpack`
(peers use its dynamic table) and sent as literals never indexed in it, so our side keeps no
table to mirror and a header block is a few byte joins (each pair's encoding is cached).

Flow control: we grant the maximum windows at once and refill them in bulk (half the window
consumed), so a peer never waits on us; what we send is bounded by the peer's windows, which
`local_flow_control_window` reports to the caller (`H2Peer` holds what does not fit).
"""

from __future__ import annotations

import struct
from typing import NoReturn, cast

import h2.exceptions
import hpack

from mlservice.h2c.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    Headers,
    RequestReceived,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)

MAX_WINDOW = 2**31 - 1
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DEFAULT_WINDOW = 65535
MAX_STREAMS = 1024  # streams a peer may open on our side at once
INBOUND_FRAME = 1 << 20  # the largest frame we accept (SETTINGS_MAX_FRAME_SIZE)

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# Error codes (RFC 9113 section 7).
PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED, FRAME_SIZE_ERROR = 1, 3, 5, 6
REFUSED_STREAM, COMPRESSION_ERROR = 7, 9

_HEAD = struct.Struct(">BHBBL")  # length (24 bits as 8 + 16), type, flags, stream id
_SETTING = struct.Struct(">HL")


def _frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return _HEAD.pack(n >> 16, n & 0xFFFF, ftype, flags, stream_id) + payload


def _hpack_int(value: int, prefix_bits: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((value,))
    out = bytearray((limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Stream:
    __slots__ = ("local_ended", "remote_ended", "seen_headers", "unacked", "window")

    def __init__(self, window: int) -> None:
        self.window = window  # what the peer lets us send on it
        self.unacked = 0  # received and consumed, not yet granted back
        self.seen_headers = False
        self.local_ended = False
        self.remote_ended = False


class RemoteSettings:
    __slots__ = ("initial_window_size", "max_concurrent_streams", "max_frame_size")

    def __init__(self) -> None:
        self.max_concurrent_streams = 2**31 - 1  # unlimited until the peer says
        self.initial_window_size = DEFAULT_WINDOW
        self.max_frame_size = 16384


class H2Codec:
    """One HTTP/2 connection's framing and state, sans IO (bytes in, events and bytes out)."""

    def __init__(self, *, client_side: bool) -> None:
        self.client_side = client_side
        self.remote_settings = RemoteSettings()
        self.streams: dict[int, _Stream] = {}
        self.window = DEFAULT_WINDOW  # the connection's send window, as the peer grants
        self.open_outbound_streams = 0
        self._unacked = 0  # the connection's consumed bytes not yet granted back
        self._next_id = 1 if client_side else 2
        self._highest_inbound = 0
        self._out: list[bytes] = []
        self._in = b""
        self._preface = not client_side  # a server waits for the client's preface first
        self._decoder = hpack.Decoder()
        self._block: list[bytes] = []  # a header block awaiting its CONTINUATION frames
        self._block_head = (0, 0)  # its stream id and HEADERS flags
        self._encoded: dict[tuple[bytes, bytes], bytes] = {}
        self._decoded: dict[bytes, tuple[tuple[bytes, bytes], ...]] = {}
        self.terminated = False  # either side said GOAWAY: no new streams
        self._goaway_sent = False

    @property
    def max_outbound_frame_size(self) -> int:
        return self.remote_settings.max_frame_size

    # -- sending
    def initiate_connection(self) -> None:
        """Preface (client), our SETTINGS, and the connection's receive window opened wide."""
        settings = [(4, MAX_WINDOW), (3, MAX_STREAMS), (5, INBOUND_FRAME)]
        if self.client_side:
            self._out.append(PREFACE)
            settings.append((2, 0))  # no server push
        payload = b"".join(_SETTING.pack(k, v) for k, v in settings)
        self._out.append(_frame(SETTINGS, 0, 0, payload))
        self._out.append(_frame(WINDOW_UPDATE, 0, 0, (MAX_WINDOW - DEFAULT_WINDOW).to_bytes(4)))

    def data_to_send(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def get_next_available_stream_id(self) -> int:
        if self.terminated:
            raise h2.exceptions.ProtocolError("the connection is closed")
        if self._next_id > 2**31 - 1:
            raise h2.exceptions.NoAvailableStreamIDError("stream ids exhausted")
        return self._next_id

    def send_headers(self, stream_id: int, headers: Headers, *,
                     end_stream: bool = False) -> None:  # fmt: skip
        stream = self.streams.get(stream_id)
        if stream is None:
            if not self.client_side or stream_id < self._next_id or self.terminated:
                raise h2.exceptions.StreamClosedError(stream_id)
            if self.open_outbound_streams >= self.remote_settings.max_concurrent_streams:
                raise h2.exceptions.TooManyStreamsError("the peer's stream limit")
            stream = self.streams[stream_id] = _Stream(self.remote_settings.initial_window_size)
            self._next_id = stream_id + 2
            self.open_outbound_streams += 1
        elif stream.local_ended:
            raise h2.exceptions.StreamClosedError(stream_id)
        block = self._encode(headers)
        size = self.remote_settings.max_frame_size
        flags = END_STREAM if end_stream else 0
        if len(block) <= size:
            self._out.append(_frame(HEADERS, flags | END_HEADERS, stream_id, block))
        else:
            self._out.append(_frame(HEADERS, flags, stream_id, block[:size]))
            for at in range(size, len(block), size):
                last = END_HEADERS if at + size >= len(block) else 0
                self._out.append(_frame(CONTINUATION, last, stream_id, block[at : at + size]))
        if end_stream:
            self._local_end(stream_id, stream)

    def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """One DATA frame; the caller keeps it within `local_flow_control_window`."""
        stream = self.streams.get(stream_id)
        if stream is None or stream.local_ended:
            raise h2.exceptions.StreamClosedError(stream_id)
        size = len(data)
        if size > min(self.window, stream.window, self.remote_settings.max_frame_size):
            raise h2.exceptions.FlowControlError("more than the peer's window")
        self.window -= size
        stream.window -= size
        self._out.append(_frame(DATA, END_STREAM if end_stream else 0, stream_id, data))
        if end_stream:
            self._local_end(stream_id, stream)

    def end_stream(self, stream_id: int) -> None:
        self.send_data(stream_id, b"", end_stream=True)

    def reset_stream(self, stream_id: int, error_code: int = 0) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise h2.exceptions.StreamClosedError(stream_id)
        self._forget(stream_id, stream)
        self._out.append(_frame(RST_STREAM, 0, stream_id, error_code.to_bytes(4)))

    def close_connection(self, error_code: int = 0) -> None:
        """GOAWAY: the peer opens no stream past the last one we have seen (a graceful close:
        streams open still finish; streams the peer opens meanwhile are refused)."""
        if self._goaway_sent:
            return
        self.terminated = self._goaway_sent = True
        last = self._highest_inbound.to_bytes(4)
        self._out.append(_frame(GOAWAY, 0, 0, last + error_code.to_bytes(4)))

    def local_flow_control_window(self, stream_id: int) -> int:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise h2.exceptions.StreamClosedError(stream_id)
        return min(self.window, stream.window)

    def acknowledge_received_data(self, size: int, stream_id: int) -> None:
        """Consumed bytes: granted back in bulk, once half a window has been consumed."""
        self._unacked += size
        if self._unacked >= MAX_WINDOW // 2:
            self._out.append(_frame(WINDOW_UPDATE, 0, 0, self._unacked.to_bytes(4)))
            self._unacked = 0
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.unacked += size
            if stream.unacked >= MAX_WINDOW // 2 and not stream.remote_ended:
                self._out.append(_frame(WINDOW_UPDATE, 0, stream_id, stream.unacked.to_bytes(4)))
                stream.unacked = 0

    def _encode(self, headers: Headers) -> bytes:
        cache = self._encoded
        parts = []
        for pair in headers:
            piece = cache.get(pair)
            if piece is None:
                name, value = pair
                # Literal header field never indexed, new name (RFC 7541 6.2.3): no table.
                piece = b"".join(
                    (b"\x10", _hpack_int(len(name), 7), name, _hpack_int(len(value), 7), value)
                )
                if len(cache) >= 1024:
                    cache.clear()  # a bound: values that change per call (traceparent) churn
                cache[pair] = piece
            parts.append(piece)
        return b"".join(parts)

    def _local_end(self, stream_id: int, stream: _Stream) -> None:
        stream.local_ended = True
        if stream.remote_ended:
            self._forget(stream_id, stream)

    def _forget(self, stream_id: int, stream: _Stream) -> None:
        del self.streams[stream_id]
        if (stream_id & 1) == (1 if self.client_side else 0):
            self.open_outbound_streams -= 1

    # -- receiving
    def receive_data(self, data: bytes) -> list[Event]:
        buf = self._in + data if self._in else data
        pos = 0
        if self._preface:
            if len(buf) < len(PREFACE):
                if not PREFACE.startswith(buf):
                    self._error(PROTOCOL_ERROR, "not an HTTP/2 connection preface")
                self._in = buf
                return []
            if not buf.startswith(PREFACE):
                self._error(PROTOCOL_ERROR, "not an HTTP/2 connection preface")
            self._preface = False
            pos = len(PREFACE)
        events: list[Event] = []
        end = len(buf)
        unpack = _HEAD.unpack_from
        while end - pos >= 9:
            hi, lo, ftype, flags, stream_id = unpack(buf, pos)
            length = hi << 16 | lo
            if length > INBOUND_FRAME:
                self._error(FRAME_SIZE_ERROR, f"a frame of {length} bytes")
            if end - pos - 9 < length:
                break
            payload = buf[pos + 9 : pos + 9 + length]
            pos += 9 + length
            stream_id &= 0x7FFFFFFF
            if self._block and ftype != CONTINUATION:
                self._error(PROTOCOL_ERROR, "a header block interrupted")
            if ftype == DATA:
                self._on_data(events, flags, stream_id, payload)
            elif ftype == HEADERS:
                self._on_headers(events, flags, stream_id, payload)
            elif ftype == CONTINUATION:
                self._on_continuation(events, flags, stream_id, payload)
            elif ftype == WINDOW_UPDATE:
                self._on_window_update(events, stream_id, payload)
            elif ftype == RST_STREAM:
                self._on_reset(events, stream_id, payload)
            elif ftype == SETTINGS:
                self._on_settings(events, flags, payload)
            elif ftype == PING:
                if len(payload) != 8:
                    self._error(FRAME_SIZE_ERROR, "a PING not of 8 bytes")
                if not flags & ACK:
                    self._out.append(_frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                self.terminated = True
                last = int.from_bytes(payload[:4]) & 0x7FFFFFFF
                events.append(ConnectionTerminated(last, int.from_bytes(payload[4:8])))
            elif ftype == PUSH_PROMISE:
                self._error(PROTOCOL_ERROR, "PUSH_PROMISE, though push is disabled")
            # PRIORITY and unknown frame types are ignored, as RFC 9113 asks.
        self._in = buf[pos:]
        return events

    def _on_data(self, events: list[Event], flags: int, stream_id: int,
                 payload: bytes) -> None:  # fmt: skip
        size = len(payload)
        if flags & PADDED:
            payload = self._unpad(payload)
        stream = self.streams.get(stream_id)
        if stream is None or stream.remote_ended:
            if stream_id == 0:
                self._error(PROTOCOL_ERROR, "DATA on stream 0")
            # A stream we closed or reset: its bytes still count against the connection.
            self.acknowledge_received_data(size, 0)
            if stream is not None:  # half closed (remote): a stream error
                self._out.append(_frame(RST_STREAM, 0, stream_id, STREAM_CLOSED.to_bytes(4)))
            return
        events.append(DataReceived(stream_id, payload, size))
        if flags & END_STREAM:
            self._remote_end(events, stream_id, stream)

    def _on_headers(self, events: list[Event], flags: int, stream_id: int,
                    payload: bytes) -> None:  # fmt: skip
        if stream_id == 0:
            self._error(PROTOCOL_ERROR, "HEADERS on stream 0")
        if flags & PADDED:
            payload = self._unpad(payload)
        if flags & PRIORITY_FLAG:
            payload = payload[5:]
        if not flags & END_HEADERS:
            self._block = [payload]
            self._block_head = (stream_id, flags)
            return
        self._headers(events, flags, stream_id, payload)

    def _on_continuation(self, events: list[Event], flags: int, stream_id: int,
                         payload: bytes) -> None:  # fmt: skip
        if not self._block or self._block_head[0] != stream_id:
            self._error(PROTOCOL_ERROR, "CONTINUATION out of place")
        self._block.append(payload)
        if flags & END_HEADERS:
            block, self._block = b"".join(self._block), []
            self._headers(events, self._block_head[1], stream_id, block)

    def _headers(self, events: list[Event], flags: int, stream_id: int,
                 block: bytes) -> None:  # fmt: skip
        headers = self._decode(block)
        stream = self.streams.get(stream_id)
        ended = bool(flags & END_STREAM)
        if stream is None:
            inbound = (stream_id & 1) == (0 if self.client_side else 1)
            if not inbound or stream_id <= self._highest_inbound or self.client_side:
                # A stream closed here (reset, or done): decoded above to keep HPACK in step.
                return
            if self._goaway_sent:  # opened before our GOAWAY reached the peer: retryable
                self._out.append(_frame(RST_STREAM, 0, stream_id, REFUSED_STREAM.to_bytes(4)))
                return
            self._highest_inbound = stream_id
            if len(self.streams) >= MAX_STREAMS:
                self._out.append(_frame(RST_STREAM, 0, stream_id, REFUSED_STREAM.to_bytes(4)))
                return
            stream = self.streams[stream_id] = _Stream(self.remote_settings.initial_window_size)
            stream.seen_headers = True
            events.append(RequestReceived(stream_id, headers))
        elif stream.remote_ended:
            return
        elif not stream.seen_headers:
            if headers and headers[0][0] == b":status" and headers[0][1][:1] == b"1":
                return  # informational (1xx): the answer's head is still to come
            stream.seen_headers = True
            response = ResponseReceived(stream_id, headers)
            events.append(response)
            if ended:
                response.stream_ended = True
                self._remote_end(events, stream_id, stream)
            return
        else:
            if not ended:
                self._error(PROTOCOL_ERROR, "trailers without END_STREAM")
            events.append(TrailersReceived(stream_id, headers))
        if ended:
            self._remote_end(events, stream_id, stream)

    def _decode(self, block: bytes) -> Headers:
        """A header block's list (the caller's own). Blocks repeat on a connection once the
        peer's encoder has indexed what it sends, and a block means the same as long as the
        dynamic table is unchanged: so they are kept until a block changes the table."""
        cached = self._decoded.get(block)
        if cached is not None:
            return list(cached)
        entries = self._decoder.header_table.dynamic_entries
        size, first = len(entries), entries[0] if entries else None
        try:
            headers = cast(Headers, list(self._decoder.decode(block, raw=True)))
        except hpack.HPACKError as exc:
            self._error(COMPRESSION_ERROR, f"a header block that does not decode: {exc}")
        # By identity: a re-inserted pair is a new tuple, equal to the one it displaced.
        if len(entries) != size or (entries[0] if entries else None) is not first:
            self._decoded.clear()  # the table changed: what was cached may mean other headers
        elif len(self._decoded) < 256:
            self._decoded[block] = tuple(headers)
        return headers

    def _remote_end(self, events: list[Event], stream_id: int, stream: _Stream) -> None:
        stream.remote_ended = True
        if stream.local_ended:
            self._forget(stream_id, stream)
        events.append(StreamEnded(stream_id))

    def _on_window_update(self, events: list[Event], stream_id: int,
                          payload: bytes) -> None:  # fmt: skip
        if len(payload) != 4:
            self._error(FRAME_SIZE_ERROR, "a WINDOW_UPDATE not of 4 bytes")
        delta = int.from_bytes(payload) & 0x7FFFFFFF
        if stream_id == 0:
            if delta == 0:
                self._error(PROTOCOL_ERROR, "a WINDOW_UPDATE of 0")
            self.window += delta
            if self.window > MAX_WINDOW:
                self._error(FLOW_CONTROL_ERROR, "the connection's window past 2^31-1")
        else:
            stream = self.streams.get(stream_id)
            if stream is None:
                return  # a stream closed meanwhile
            stream.window += delta
        events.append(WindowUpdated(stream_id))

    def _on_reset(self, events: list[Event], stream_id: int, payload: bytes) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        self._forget(stream_id, stream)
        events.append(StreamReset(stream_id, int.from_bytes(payload[:4])))

    def _on_settings(self, events: list[Event], flags: int, payload: bytes) -> None:
        if flags & ACK:
            return
        if len(payload) % 6:
            self._error(FRAME_SIZE_ERROR, "a SETTINGS frame not of 6-byte entries")
        remote = self.remote_settings
        opened = False
        for at in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, at)
            if key == 3:
                remote.max_concurrent_streams = value
            elif key == 4:
                if value > MAX_WINDOW:
                    self._error(FLOW_CONTROL_ERROR, "an initial window past 2^31-1")
                delta = value - remote.initial_window_size
                remote.initial_window_size = value
                for stream in self.streams.values():
                    stream.window += delta
                opened = opened or delta > 0
            elif key == 5:
                if not 16384 <= value <= 2**24 - 1:
                    self._error(PROTOCOL_ERROR, f"a max frame size of {value}")
                remote.max_frame_size = value
        self._out.append(_frame(SETTINGS, ACK, 0))
        if opened:
            events.append(WindowUpdated(0))

    def _unpad(self, payload: bytes) -> bytes:
        if not payload or payload[0] >= len(payload):
            self._error(PROTOCOL_ERROR, "padding longer than the frame")
        return payload[1 : len(payload) - payload[0]]

    def _error(self, code: int, reason: str) -> NoReturn:
        """A connection error: GOAWAY framed for the caller to send, then ProtocolError."""
        self.terminated = True
        if not self._goaway_sent:
            self._goaway_sent = True
            last = self._highest_inbound.to_bytes(4)
            self._out.append(_frame(GOAWAY, 0, 0, last + code.to_bytes(4) + reason.encode()))
        raise h2.exceptions.ProtocolError(reason)
