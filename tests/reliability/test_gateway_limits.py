"""The gateway's limits against hostile clients, on a real gateway process: request heads
bounded in bytes and fields, answered-early requests closed, stalled requests timed out."""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway.fake_replicas import RawReplica
from tests.gateway.gateway_procs import (
    Gateway,
    Proc,
    revision,
    route,
    snapshot,
    start_gateway,
    start_upstream,
)

pytestmark = pytest.mark.e2e
HEAD_LIMIT = 64 * 1024  # GatewayConfig.max_header_bytes
LINGER = 2.0  # GatewayConfig.linger_seconds
CHUNKED = b"transfer-encoding: chunked\r\n\r\n"
CHUNK = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
versions = itertools.count(1)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    args = ["--activation-timeout", "1", "--header-timeout", "1", "--body-timeout", "1"]
    running = start_gateway(tmp_path_factory.mktemp("limits"), *args)
    yield running
    running.proc.stop()


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_upstream("echo", tmp_path_factory.mktemp("echo"))
    yield proc
    proc.stop()


@dataclass
class Outcome:
    answer: bytes
    fin_after: float | None  # seconds from the first answer byte to the server's FIN
    reset_after: float | None  # ... to a send refused (reset, broken pipe): the server let go


def _upload_until_closed(sock: socket.socket, *, within: float = 15.0) -> Outcome:
    """Keep sending chunks (never the last one) while reading, until the server drops us."""
    sock.setblocking(False)
    outcome = Outcome(b"", None, None)
    answered = 0.0
    deadline = time.monotonic() + within
    while outcome.reset_after is None and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock], [], 0.1)
        now = time.monotonic()
        try:
            if readable and outcome.fin_after is None:
                data = sock.recv(0x10000)
                answered = answered or now
                if data:
                    outcome.answer += data
                else:
                    outcome.fin_after = now - answered
            if writable:
                sock.send(CHUNK)
        except OSError:
            outcome.reset_after = now - (answered or now)
    return outcome


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


def test_an_endless_chunked_trailer_gets_431(gateway: Gateway, echo: Proc) -> None:
    """F7's sibling: the parser holds a chunked body's trailer whole too; it is bounded alike."""
    rid = "ns/trailer-predict-v1-00001"
    gateway.put(
        snapshot(
            next(versions),
            [revision(rid, echo, service="trailer")],
            [route("trailer.ns.localhost", (rid, "v1", 100), service="trailer")],
        )
    )
    with _connect(gateway) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: trailer.ns.localhost\r\n" + CHUNKED)
        sock.sendall(CHUNK + b"0\r\nx-trailer: ")
        time.sleep(0.05)  # the trailer starts in a read of its own, or the next one counts
        for _ in range(3):
            sock.sendall(b"a" * HEAD_LIMIT)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"trailer is larger than 65536 bytes" in answer


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


def test_an_early_413_to_a_chunked_upload_closes_the_connection(gateway: Gateway) -> None:
    """F8: after a replica's 413 to an oversized chunked upload, the gateway went on reading
    (or stayed paused) and never closed; now the 413 says `connection: close`, a FIN follows
    it, and the connection is dropped after the linger time while the client keeps sending."""
    body = b'{"error": "too large"}'
    head = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: %d\r\n\r\n" % len(body)
    # The model server's 413 for a body past its limit, at its worst: it never reads again.
    replica = RawReplica(head + body, read=0x10000, close=False)
    try:
        rid = "ns/early-predict-v1-00001"
        gateway.put(
            snapshot(
                next(versions),
                [revision(rid, replica.address, service="early")],
                [route("early.ns.localhost", (rid, "v1", 100), service="early")],
            )
        )
        with _connect(gateway) as sock:
            sock.sendall(
                b"POST /v1/models/m:predict HTTP/1.1\r\nhost: early.ns.localhost\r\n" + CHUNKED
            )
            outcome = _upload_until_closed(sock)
    finally:
        replica.close()
    assert outcome.answer.startswith(b"HTTP/1.1 413 "), outcome.answer[:200]
    assert b"connection: close" in outcome.answer
    assert outcome.answer.endswith(body)
    assert outcome.fin_after is not None
    assert outcome.fin_after < 5
    assert outcome.reset_after is not None
    assert outcome.reset_after < LINGER + 5


def test_an_error_while_the_upload_is_paused_closes_the_connection(gateway: Gateway) -> None:
    """F8: a body past the buffer pauses the client while no replica is ready; the 503 that
    follows left it paused forever. Now it closes."""
    rid = "ns/cold-predict-v1-00001"
    gateway.put(
        snapshot(
            next(versions),
            [revision(rid, service="cold")],  # no replica yet: the activator holds requests
            [route("cold.ns.localhost", (rid, "v1", 100), service="cold")],
        )
    )
    with _connect(gateway) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: cold.ns.localhost\r\n" + CHUNKED)
        outcome = _upload_until_closed(sock)
    assert outcome.answer.startswith(b"HTTP/1.1 503 "), outcome.answer[:200]
    assert b"connection: close" in outcome.answer
    assert outcome.reset_after is not None
    assert outcome.reset_after < LINGER + 5


def test_an_error_before_a_small_declared_body_keeps_the_connection(gateway: Gateway) -> None:
    """The rest of a small declared body is read and dropped: the connection is reused."""
    request = b"POST / HTTP/1.1\r\nhost: nobody.ns.localhost\r\ncontent-length: 5\r\n\r\n"
    with _connect(gateway) as sock:
        for _ in range(2):
            sock.sendall(request)
            time.sleep(0.05)  # the body comes in a later read than the head
            sock.sendall(b"hello")
            answer = sock.recv(0x10000)
            assert answer.startswith(b"HTTP/1.1 404 "), answer
            assert b"connection: close" not in answer


def test_a_body_that_stops_short_gets_408_and_frees_its_slot(gateway: Gateway, echo: Proc) -> None:
    """A Content-Length never fully sent held a replica slot 30 s or more; now the body read
    timeout (1 s here) answers 408, drops the upstream request and closes."""
    rid = "ns/short-predict-v1-00001"
    gateway.put(
        snapshot(
            next(versions),
            [revision(rid, echo, service="short")],
            [route("short.ns.localhost", (rid, "v1", 100), service="short")],
        )
    )
    head = b"POST / HTTP/1.1\r\nhost: short.ns.localhost\r\ncontent-length: 100\r\n\r\n"
    started = time.monotonic()
    with _connect(gateway) as sock:
        sock.sendall(head + b"x" * 10)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"connection: close" in answer
    assert b"nothing arrived for 1s" in answer
    assert time.monotonic() - started < 5
    labels = f'namespace="ns",release="v1",revision="{rid}",service="short"'
    assert f'mls_gateway_in_flight{{component="predict",{labels}}} 0.0' in gateway.metrics()


def test_a_head_trickling_in_gets_408(gateway: Gateway) -> None:
    """Slowloris: a head that keeps arriving a byte at a time is cut at the header timeout."""
    started = time.monotonic()
    with _connect(gateway) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x.ns.localhost\r\n")
        answer = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while time.monotonic() - started < 10 and not answer:
                sock.sendall(b"x")
                if select.select([sock], [], [], 0.2)[0]:
                    answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 1s" in answer
    assert time.monotonic() - started < 5
