"""The HTTP edge's limits: a bounded header block, a read deadline, and closing after a 413.

Raw sockets, since an HTTP client would neither stop a body short nor send 16 MB of headers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.server_procs import MODELS, Launcher, Served

pytestmark = pytest.mark.e2e
READ_TIMEOUT = 1.0
PREDICT = b"POST /v1/models/echo:predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def limited(launcher: Launcher) -> Iterator[Served]:
    served = launcher.start(
        MODELS / "echo",
        "--read-timeout",
        str(READ_TIMEOUT),
        "--max-body-bytes",
        "100000",
        name="echo",
    )
    yield served
    served.stop()


def connect(served: Served) -> socket.socket:
    address = urlsplit(served.url)
    return socket.create_connection((address.hostname or "", address.port or 0), timeout=10)


def answer(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it then closed the connection."""
    sock.settimeout(10)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return received, False
    except ConnectionResetError:
        pass  # closed while our unread bytes were still in its buffer: closed all the same
    return received, True


def status_of(received: bytes) -> int:
    return int(received.split(b" ", 2)[1]) if received else 0


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_body_that_stops_short_is_408_and_closed(limited: Served) -> None:
    """Bodies that stop short: a Content-Length never fully sent held the connection (and its
    task) as long as the client liked; now the read deadline answers 408 and closes."""
    with connect(limited) as sock:
        started = time.monotonic()
        sock.sendall(PREDICT + b'Content-Length: 100\r\n\r\n{"instances": [')
        received, closed = answer(sock)
        took = time.monotonic() - started
    assert status_of(received) == 408, received
    assert received.endswith(b'{"error":"The request did not arrive within 1 seconds."}')
    assert closed
    assert READ_TIMEOUT * 0.9 <= took < READ_TIMEOUT + 5
    # The handler waiting for that body saw a disconnect, not an internal error.
    assert "internal error" not in limited.log_text()


def test_a_head_that_never_ends_is_408_and_closed(limited: Served) -> None:
    """Bodies that stop short, the head's version: headers trickled and never finished."""
    with connect(limited) as sock:
        sock.sendall(PREDICT + b"X-Slow: a")
        time.sleep(READ_TIMEOUT / 2)
        sock.sendall(b"b")  # still arriving, but the deadline counts from the first byte
        received, closed = answer(sock)
    assert (status_of(received), closed) == (408, True)


def test_a_request_arriving_in_pieces_within_the_deadline_is_served(limited: Served) -> None:
    body = b'{"instances": [[1, 2]]}'
    with connect(limited) as sock:
        sock.sendall(PREDICT + f"Content-Length: {len(body)}\r\n".encode())
        time.sleep(READ_TIMEOUT / 4)
        sock.sendall(b"Connection: close\r\n\r\n" + body[:5])
        time.sleep(READ_TIMEOUT / 4)
        sock.sendall(body[5:])
        received, _ = answer(sock)
    assert status_of(received) == 200, received
    assert b'"row":[1,2]' in received


def test_huge_unfinished_headers_are_431_and_memory_stays_bounded(limited: Served) -> None:
    """F7 (for `mls serve`): 20 connections pushing unfinished 16 MB headers grew the server's
    memory by their whole size; now each is cut at the header limit with a 431."""
    before = rss_bytes(limited.proc.pid)
    chunk = b"a" * 65536
    socks = [connect(limited) for _ in range(20)]
    statuses = []
    try:
        for sock in socks:
            sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\nX-Big: ")
            try:
                for _ in range(256):  # 16 MB, unless the server hangs up first
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
        grown = rss_bytes(limited.proc.pid) - before
        for sock in socks:
            received, closed = answer(sock)
            statuses.append((status_of(received), closed))
    finally:
        for sock in socks:
            sock.close()
    assert grown < 64 * 1024 * 1024, f"RSS grew by {grown} bytes"
    # A reset may swallow the 431 itself; the connection is closed either way.
    assert all(closed and status in (431, 0) for status, closed in statuses), statuses
    assert any(status == 431 for status, _ in statuses)
    assert httpx.get(f"{limited.url}/v2/health/ready", timeout=10).status_code == 200


def test_a_413_closes_the_connection(limited: Served) -> None:
    """The refused body is never read: the connection cannot carry another request."""
    with connect(limited) as sock:
        sock.sendall(PREDICT + b"Content-Length: 200000\r\n\r\n")
        received, closed = answer(sock)
    assert status_of(received) == 413
    assert b"connection: close" in received.lower()
    assert closed


def test_a_slow_model_is_not_cut_by_the_read_deadline(limited: Served) -> None:
    """The deadline covers the request's arrival only: a predict longer than it still answers."""
    body = {
        "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}],
        "parameters": {"sleep": READ_TIMEOUT * 1.5},
    }
    answer = httpx.post(f"{limited.url}/v2/models/echo/infer", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
