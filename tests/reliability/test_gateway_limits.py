"""The gateway's limits against hostile clients, on a real gateway process: request heads
bounded in bytes and fields, answered-early requests closed, stalled requests timed out."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.gateway_procs import Gateway, start_gateway

pytestmark = pytest.mark.e2e
HEAD_LIMIT = 64 * 1024  # GatewayConfig.max_header_bytes


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    running = start_gateway(tmp_path_factory.mktemp("limits"))
    yield running
    running.proc.stop()


def _connect(gateway: Gateway, *, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.proc.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """What the gateway sent before closing (b"" if it closed, or reset, with nothing)."""
    got = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            got += chunk
    return got


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_an_endless_header_gets_431_at_the_limit(gateway: Gateway) -> None:
    """F7: a head that never ends was buffered without limit; past 64 KiB it gets 431."""
    with _connect(gateway) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x.ns.localhost\r\nx-big: " + b"a" * HEAD_LIMIT)
        sock.sendall(b"a" * 1024)  # past the limit, and then nothing more: no end of head
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"connection: close" in answer
    assert b"larger than 65536 bytes" in answer


def test_too_many_header_fields_get_431(gateway: Gateway) -> None:
    """F7: the field count is bounded too (each field is a tuple held until the head ends)."""
    fields = b"".join(b"x-f%d: v\r\n" % i for i in range(101))
    with _connect(gateway) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x.ns.localhost\r\n" + fields + b"\r\n")
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"more than 100 header fields" in answer


def test_a_head_just_under_the_limit_is_served(gateway: Gateway) -> None:
    """The limit refuses only what is past it: a 60 KiB head reaches routing (404 here)."""
    with _connect(gateway) as sock:
        big = b"x-big: " + b"a" * (60 * 1024) + b"\r\n"
        sock.sendall(
            b"GET / HTTP/1.1\r\nhost: x.ns.localhost\r\n" + big + b"connection: close\r\n\r\n"
        )
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]


def test_rss_stays_bounded_under_20_endless_heads(gateway: Gateway) -> None:
    """F7: 20 connections sending 16 MB heads took the gateway from 61 MB to 731 MB RSS; now
    each is refused at the limit and its buffer goes with it."""
    pid = gateway.proc.proc.pid
    before = _rss(pid)
    piece = b"a" * (256 * 1024)
    socks = [_connect(gateway) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x.ns.localhost\r\nx-big: ")
        live = list(socks)
        for _ in range(64):  # 16 MB of head on each, round robin, as a slow attacker would
            for sock in list(live):
                try:
                    sock.sendall(piece)
                except OSError:  # refused and closed: what we want
                    live.remove(sock)
        grown = _rss(pid) - before
        assert grown < 64 * 1024 * 1024, f"RSS grew {grown / 2**20:.0f} MiB"
        answers = [_answer(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    assert all(a == b"" or a.startswith(b"HTTP/1.1 431 ") for a in answers), answers
