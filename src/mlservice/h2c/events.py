"""What a received frame or header block meant, as `H2Codec.receive_data` reports it: the
names `h2.events` uses, so a peer reacts by type as it did with the general library.
"""

from __future__ import annotations

Headers = list[tuple[bytes, bytes]]


class Event:
    """What a frame or a header block meant; the proxy reacts by type."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class RequestReceived(Event):
    __slots__ = ("headers",)

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers


class ResponseReceived(Event):
    __slots__ = ("headers", "stream_ended")

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers
        self.stream_ended = False  # Trailers-Only: the block ended the stream


class TrailersReceived(Event):
    __slots__ = ("headers",)

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers


class DataReceived(Event):
    __slots__ = ("data", "flow_controlled_length")

    def __init__(self, stream_id: int, data: bytes, flow_controlled_length: int) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_controlled_length = flow_controlled_length  # padding included


class StreamEnded(Event):
    __slots__ = ()


class StreamReset(Event):
    __slots__ = ("error_code",)

    def __init__(self, stream_id: int, error_code: int) -> None:
        self.stream_id = stream_id
        self.error_code = error_code


class WindowUpdated(Event):
    """The peer opened a window (stream 0: the connection's, or every stream's initial)."""

    __slots__ = ()


class ConnectionTerminated(Event):
    """GOAWAY: streams past `last_stream_id` were not processed."""

    __slots__ = ("error_code", "last_stream_id")

    def __init__(self, last_stream_id: int, error_code: int) -> None:
        self.stream_id = 0
        self.last_stream_id = last_stream_id
        self.error_code = error_code
