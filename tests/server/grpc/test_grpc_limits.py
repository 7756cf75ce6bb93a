"""A gRPC stream whose message stops short does not hold its connection for ever.

gRPC has no per-stream read timeout; the connection's maximum age (then its grace) is what
closes it. The client here speaks raw HTTP/2, since no gRPC client sends half a message.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[3]
PATH = "/inference.GRPCInferenceService/ModelInfer"


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + (payload)
    )


def header(name: str, value: str) -> bytes:
    """An HPACK literal without indexing, no Huffman: enough for short names and values."""
    raw_name, raw_value = name.encode(), value.encode()
    return b"\x00" + bytes([len(raw_name)]) + raw_name + bytes([len(raw_value)]) + raw_value


@contextmanager
def stall_server(*args: str) -> Iterator[int]:
    """The gRPC server alone (`stall_server.py AGE GRACE [IDLE]`); yields its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.server.grpc.stall_server", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline().split()[1])
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_stalled_stream_is_closed_by_the_connection_age() -> None:
    """Bodies that stop short, on gRPC: a ModelInfer message announced as 1000 bytes, 10 sent;
    the connection stayed open for as long as the client liked."""
    with stall_server("1", "1") as port:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            headers = [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", PATH),
                (":authority", "t"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ]
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
            sock.sendall(frame(1, 4, 1, b"".join(header(n, v) for n, v in headers)))
            sock.sendall(frame(0, 0, 1, b"\x00" + struct.pack(">I", 1000) + b"0123456789"))
            started = time.monotonic()
            closed_after = None
            while closed_after is None and time.monotonic() - started < 30:
                try:
                    if not sock.recv(65536):
                        closed_after = time.monotonic() - started
                except TimeoutError:
                    pass
                except ConnectionResetError:
                    closed_after = time.monotonic() - started
        # age 1 s (+10% jitter) and grace 1 s: closed within seconds, generously bounded
        assert closed_after is not None, "the stalled stream's connection is still open"
        assert closed_after < 15


def frame_types(data: bytes) -> list[int]:
    types, at = [], 0
    while at + 9 <= len(data):
        length = int.from_bytes(data[at : at + 3])
        types.append(data[at + 3])
        at += 9 + length
    return types


def test_a_connection_without_calls_is_sent_away_when_idle() -> None:
    """Idle for 1 s (age 300 s): GOAWAY, then the server closes; nothing else bounds a client
    that connects and never calls, since no keepalive pings are sent."""
    with stall_server("300", "60", "1") as port:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
            received, started, closed_after = b"", time.monotonic(), None
            while closed_after is None and time.monotonic() - started < 30:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                received += chunk
                if not chunk:
                    closed_after = time.monotonic() - started
        assert closed_after is not None, "the idle connection is still open"
        assert 0.9 < closed_after < 15
        assert frame_types(received)[-1] == 7, frame_types(received)  # GOAWAY, then closed
