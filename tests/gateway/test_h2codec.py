"""The gateway's narrow HTTP/2 codec against the `h2` library as the peer (what any HTTP/2
implementation must accept of it, and what it must understand of one)."""

from __future__ import annotations

import random
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from mlservice.h2c.codec import H2Codec
from mlservice.h2c.events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    ResponseReceived,
    StreamReset,
    WindowUpdated,
)

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/inference.GRPCInferenceService/ModelInfer"),
    (b":authority", b"iris.default.localhost"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
]
HEAD = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0")]


def peer(*, client_side: bool) -> h2.connection.H2Connection:
    config = h2.config.H2Configuration(client_side=client_side, header_encoding=None)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    return conn


def pair_with_client() -> tuple[h2.connection.H2Connection, H2Codec]:
    """An `h2` client and our server side, past the prefaces and settings."""
    client, ours = peer(client_side=True), H2Codec(client_side=False)
    ours.initiate_connection()
    ours.receive_data(client.data_to_send())
    client.receive_data(ours.data_to_send())
    ours.receive_data(client.data_to_send())
    return client, ours


def pair_with_server() -> tuple[H2Codec, h2.connection.H2Connection]:
    ours, server = H2Codec(client_side=True), peer(client_side=False)
    ours.initiate_connection()
    server.receive_data(ours.data_to_send())
    ours.receive_data(server.data_to_send())
    server.receive_data(ours.data_to_send())
    return ours, server


def frame_types_in(data: bytes) -> list[int]:
    types, at = [], 0
    while at + 9 <= len(data):
        types.append(data[at + 3])
        at += 9 + int.from_bytes(data[at : at + 3])
    return types


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_unary_call_in_both_directions_with_h2_as_client() -> None:
    client, ours = pair_with_client()
    client.send_headers(1, REQUEST)
    client.send_data(1, b"\x00\x00\x00\x00\x02ab", end_stream=True)
    events = ours.receive_data(client.data_to_send())
    assert kinds(events) == ["RequestReceived", "DataReceived", "StreamEnded"]
    request, data = events[0], events[1]
    assert isinstance(request, RequestReceived)
    assert request.headers == REQUEST
    assert isinstance(data, DataReceived)
    assert data.data == b"\x00\x00\x00\x00\x02ab"
    assert data.flow_controlled_length == 7

    ours.send_headers(1, HEAD)
    ours.send_data(1, b"\x00\x00\x00\x00\x01z")
    ours.send_headers(1, TRAILERS, end_stream=True)
    answer = client.receive_data(ours.data_to_send())
    assert [type(e) for e in answer] == [
        h2.events.ResponseReceived,
        h2.events.DataReceived,
        h2.events.TrailersReceived,
        h2.events.StreamEnded,
    ]
    assert answer[0].headers == HEAD
    assert answer[2].headers == TRAILERS
    assert answer[1].data == b"\x00\x00\x00\x00\x01z"
    assert ours.streams == {}  # both sides ended: forgotten
    with pytest.raises(h2.exceptions.StreamClosedError):
        ours.send_data(1, b"late")


def test_header_blocks_past_a_frame_go_in_continuation_frames_both_ways() -> None:
    client, ours = pair_with_client()
    big = [*REQUEST, (b"x-big", b"v" * 40_000)]
    client.send_headers(1, big, end_stream=True)
    (request, _ended) = ours.receive_data(client.data_to_send())
    assert isinstance(request, RequestReceived)
    assert request.headers == big
    ours.send_headers(1, [*HEAD, (b"x-big", b"w" * 40_000)])
    sent = ours.data_to_send()
    assert sent.count(b"\x09") >= 2  # CONTINUATION frames follow the HEADERS frame
    (response,) = client.receive_data(sent)
    assert response.headers[-1] == (b"x-big", b"w" * 40_000)


def test_padded_frames_and_a_ping_are_understood() -> None:
    client, ours = pair_with_client()
    client.send_headers(1, REQUEST)
    client.send_data(1, b"abc", pad_length=10)
    client.ping(b"12345678")
    events = ours.receive_data(client.data_to_send())
    assert kinds(events) == ["RequestReceived", "DataReceived"]
    assert events[1].data == b"abc"
    assert events[1].flow_controlled_length == 14
    (ack,) = client.receive_data(ours.data_to_send())
    assert isinstance(ack, h2.events.PingAckReceived)
    assert ack.ping_data == b"12345678"


def test_repeated_header_blocks_decode_the_same_and_callers_get_their_own_list() -> None:
    client, ours = pair_with_client()
    seen = []
    for stream_id, value in ((1, b"a"), (3, b"a"), (5, b"b"), (7, b"b"), (9, b"a")):
        client.send_headers(stream_id, [*REQUEST, (b"x-v", value)], end_stream=True)
        request = ours.receive_data(client.data_to_send())[0]
        assert isinstance(request, RequestReceived)
        seen.append(request.headers[-1])
        request.headers.append((b"mutated", b"1"))  # must not reach the next call's list
    assert seen == [(b"x-v", b"a"), (b"x-v", b"a"), (b"x-v", b"b"), (b"x-v", b"b"), (b"x-v", b"a")]


def test_sending_respects_the_peers_windows_and_reports_their_opening() -> None:
    client, ours = pair_with_client()
    client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 10})
    client.send_headers(1, REQUEST, end_stream=True)
    ours.receive_data(client.data_to_send())
    assert ours.local_flow_control_window(1) == 10
    with pytest.raises(h2.exceptions.FlowControlError):
        ours.send_data(1, b"x" * 11)
    ours.send_headers(1, HEAD)
    ours.send_data(1, b"x" * 10)
    client.receive_data(ours.data_to_send())
    client.increment_flow_control_window(5, stream_id=1)
    events = ours.receive_data(client.data_to_send())
    assert any(isinstance(e, WindowUpdated) and e.stream_id == 1 for e in events)
    assert ours.local_flow_control_window(1) == 5


def test_client_side_trailers_only_reset_and_goaway() -> None:
    ours, server = pair_with_server()
    first = ours.get_next_available_stream_id()
    ours.send_headers(first, REQUEST, end_stream=True)
    assert ours.open_outbound_streams == 1
    second = ours.get_next_available_stream_id()
    assert second == first + 2
    ours.send_headers(second, REQUEST, end_stream=True)
    server.receive_data(ours.data_to_send())
    server.send_headers(first, [*HEAD, (b"grpc-status", b"14")], end_stream=True)
    server.reset_stream(second, error_code=h2.errors.ErrorCodes.CANCEL)
    server.close_connection(last_stream_id=second)
    events = ours.receive_data(server.data_to_send())
    assert kinds(events) == [
        "ResponseReceived",
        "StreamEnded",
        "StreamReset",
        "ConnectionTerminated",
    ]
    assert isinstance(events[0], ResponseReceived)
    assert events[0].stream_ended
    assert isinstance(events[2], StreamReset)
    assert events[2].error_code == 8
    assert isinstance(events[3], ConnectionTerminated)
    assert events[3].last_stream_id == second
    assert ours.open_outbound_streams == 0
    with pytest.raises(h2.exceptions.ProtocolError):
        ours.get_next_available_stream_id()


def test_a_bad_preface_is_a_protocol_error_with_a_goaway_to_send() -> None:
    ours = H2Codec(client_side=False)
    ours.initiate_connection()
    ours.data_to_send()
    with pytest.raises(h2.exceptions.ProtocolError):
        ours.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert frame_types_in(ours.data_to_send()) == [7]  # GOAWAY


def test_garbage_after_the_preface_ends_in_protocol_errors_only() -> None:
    """Whatever a peer sends, the codec answers with events or ProtocolError (the caller's
    cue to send the GOAWAY and close), never another exception that would escape the Protocol."""
    rng = random.Random(18)
    frame_types = [0, 1, 3, 4, 6, 7, 8, 9, 2, 5, 0xA]
    for _ in range(3000):
        client, ours = pair_with_client()
        client.send_headers(1, REQUEST)
        ours.receive_data(client.data_to_send())
        junk = bytearray()
        for _ in range(rng.randrange(1, 4)):
            payload = rng.randbytes(rng.randrange(0, 24))
            head = len(payload).to_bytes(3) + bytes((rng.choice(frame_types), rng.randrange(256)))
            junk += head + rng.choice((0, 1, 3)).to_bytes(4) + payload
        try:
            ours.receive_data(bytes(junk))
        except h2.exceptions.ProtocolError:
            assert 7 in frame_types_in(ours.data_to_send())  # a GOAWAY is framed to send
