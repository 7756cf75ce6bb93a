"""gRPC through the gateway's h2c port: a real gateway process fed snapshots, in front of small
real gRPC servers (grpc's own, in this process), reached by grpc's own client with
`:authority` set as a channel option."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.gateway.gateway_procs import Gateway, revision, route, snapshot, start_grpc_gateway
from tests.support.ports import free_port

ECHO = "/test.Echo/Echo"
HOST = "svc.ns.localhost"


def _same(raw: bytes) -> bytes:
    return raw


class EchoServer:
    """Echoes each call's bytes, prefixed with its name; `sleep:S` in the request waits S s.
    Remembers the metadata of the last call."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.port = free_port()
        self.calls = 0
        self.metadata: dict[str, str] = {}
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((self,))
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self._lock = threading.Lock()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != ECHO:
            return None
        return grpc.unary_unary_rpc_method_handler(
            self._echo, request_deserializer=_same, response_serializer=_same
        )

    def _echo(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self.calls += 1
            self.metadata = {k: str(v) for k, v in context.invocation_metadata()}
        if request.startswith(b"sleep:"):
            time.sleep(float(request[6:]))
        return self.name + b":" + request


@pytest.fixture(scope="module")
def echo_a() -> Iterator[EchoServer]:
    server = EchoServer("a")
    server.server.start()
    yield server
    server.server.stop(0)


@pytest.fixture(scope="module")
def echo_b() -> Iterator[EchoServer]:
    server = EchoServer("b")
    server.server.start()
    yield server
    server.server.stop(0)


@pytest.fixture(scope="module")
def grpc_gateway(logs: Path) -> Iterator[tuple[Gateway, str]]:
    """A gateway with an h2c port; its gRPC target (`127.0.0.1:PORT`)."""
    running, target = start_grpc_gateway(logs, "--activation-timeout", "2")
    yield running, target
    running.proc.stop()


def _endpoint(rid: str, server: EchoServer | None, *, grpc_port: int | None = None) -> Any:
    """A revision whose one replica's gRPC port is `server`'s (its HTTP port is unused)."""
    rev = revision(rid, f"127.0.0.1:{free_port()}")
    port = server.port if server is not None else grpc_port
    if port is not None:
        rev["endpoints"][0]["grpc"] = f"127.0.0.1:{port}"
    return rev


def call(
    target: str, host: str, body: bytes = b"hi", *, timeout: float = 10
) -> tuple[bytes, dict[str, str]]:
    """One unary call with `:authority` = `host`: the answer and the initial metadata."""
    with grpc.insecure_channel(target, options=[("grpc.default_authority", host)]) as channel:
        echo = channel.unary_unary(ECHO, request_serializer=_same, response_deserializer=_same)
        answer, state = echo.with_call(body, timeout=timeout)
        return answer, dict(state.initial_metadata())


def failure(target: str, host: str, body: bytes = b"hi", *, timeout: float = 10) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(target, host, body, timeout=timeout)
    error: grpc.RpcError = caught.value
    return error


def test_a_call_reaches_the_replica_with_the_release_as_initial_metadata(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer
) -> None:
    gateway, target = grpc_gateway
    gateway.put(
        snapshot(1, [_endpoint("ns/svc-v1", echo_a)], [route(HOST, ("ns/svc-v1", "v1", 100))])
    )
    answer, metadata = call(target, HOST.upper() + ":8081", b"x-y")
    assert answer == b"a:x-y"
    assert metadata["x-mls-release"] == "v1"
    assert echo_a.metadata["traceparent"]  # started at the gateway, as on the HTTP/1.1 path


def test_the_split_is_rolled_per_call_on_one_connection(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer, echo_b: EchoServer
) -> None:
    gateway, target = grpc_gateway
    revisions = [_endpoint("ns/svc-v1", echo_a), _endpoint("ns/svc-v2", echo_b)]
    backends = (("ns/svc-v1", "v1", 70), ("ns/svc-v2", "v2", 30))
    gateway.put(snapshot(2, revisions, [route(HOST, *backends)]))
    seen: Counter[tuple[bytes, str]] = Counter()
    with grpc.insecure_channel(target, options=[("grpc.default_authority", HOST)]) as channel:
        echo = channel.unary_unary(ECHO, request_serializer=_same, response_deserializer=_same)
        for _ in range(400):
            answer, state = echo.with_call(b"n", timeout=10)
            seen[answer[:1], dict(state.initial_metadata())["x-mls-release"]] += 1
    assert set(seen) == {(b"a", "v1"), (b"b", "v2")}  # the release names who answered
    # 400 calls at p = 0.3: sigma ~ 9.2; 4 sigma either side of 120.
    assert 83 <= seen[b"b", "v2"] <= 157, seen


def test_a_large_message_streams_both_ways(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer
) -> None:
    gateway, target = grpc_gateway
    gateway.put(
        snapshot(3, [_endpoint("ns/svc-v1", echo_a)], [route(HOST, ("ns/svc-v1", "v1", 100))])
    )
    body = bytes(range(256)) * 8192  # 2 MiB: past every default HTTP/2 window
    answer, _ = call(target, HOST, body)
    assert answer == b"a:" + body


def test_answers_of_the_gateway_are_grpc_statuses(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer
) -> None:
    gateway, target = grpc_gateway
    refused = free_port()
    revisions = [
        _endpoint("ns/svc-v1", echo_a),
        _endpoint("ns/http-only", None),  # a replica with no gRPC port (a transformer's)
        _endpoint("ns/refused", None, grpc_port=refused),
        revision("ns/cold", release="v1", activatable=False),  # no replica, none coming
    ]
    routes = [
        route(HOST, ("ns/svc-v1", "v1", 100)),
        route("http.ns.localhost", ("ns/http-only", "v1", 100), service="http"),
        route("refused.ns.localhost", ("ns/refused", "v1", 100), service="refused"),
        route("cold.ns.localhost", ("ns/cold", "v1", 100), service="cold"),
        route("paused.ns.localhost", ("ns/svc-v1", "v1", 100), service="paused", paused=True),
    ]
    gateway.put(snapshot(4, revisions, routes))
    cases = {
        "nobody.ns.localhost": (grpc.StatusCode.UNIMPLEMENTED, "No service answers to host"),
        "http.ns.localhost": (grpc.StatusCode.UNIMPLEMENTED, "serves no gRPC"),
        "refused.ns.localhost": (grpc.StatusCode.UNAVAILABLE, "refused"),
        "cold.ns.localhost": (grpc.StatusCode.UNAVAILABLE, "cannot be activated"),
        "paused.ns.localhost": (grpc.StatusCode.UNAVAILABLE, "is paused"),
    }
    for host, (code, words) in cases.items():
        error = failure(target, host)
        assert (error.code(), host) == (code, host)
        assert words in (error.details() or ""), error.details()
    assert call(target, HOST)[0] == b"a:hi"  # failures did not break the connection's state


def test_a_replicas_own_status_comes_through_with_the_release(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer
) -> None:
    """A replica's Trailers-Only answer (here: a method it does not serve) is passed on as is."""
    gateway, target = grpc_gateway
    gateway.put(
        snapshot(8, [_endpoint("ns/svc-v1", echo_a)], [route(HOST, ("ns/svc-v1", "v1", 100))])
    )
    with grpc.insecure_channel(target, options=[("grpc.default_authority", HOST)]) as channel:
        other = channel.unary_unary("/test.Echo/Other", request_serializer=_same)
        with pytest.raises(grpc.RpcError) as caught:
            other(b"x", timeout=10)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "No service answers" not in (error.details() or "")  # the replica's, not ours
    # A Trailers-Only answer has one header block, which gRPC clients show as trailers.
    assert dict(error.trailing_metadata())["x-mls-release"] == "v1"


def test_the_deadline_is_kept_at_the_gateway(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer
) -> None:
    gateway, target = grpc_gateway
    revisions = [_endpoint("ns/svc-v1", echo_a), revision("ns/zero", release="v1")]
    routes = [
        route(HOST, ("ns/svc-v1", "v1", 100)),
        route("zero.ns.localhost", ("ns/zero", "v1", 100), service="zero"),
    ]
    gateway.put(snapshot(5, revisions, routes))
    # A slow replica: the client's deadline ends the call (grpc's client keeps it too, so the
    # status is DEADLINE_EXCEEDED either way; the replica's stream is reset by the gateway).
    started = time.monotonic()
    error = failure(target, HOST, b"sleep:3", timeout=0.5)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.5
    # Held by the activator (no replica yet): the gateway answers at the deadline, sent as
    # grpc-timeout, before its own 2 s activation bound.
    with grpc.insecure_channel(
        target, options=[("grpc.default_authority", "zero.ns.localhost")]
    ) as ch:
        echo = ch.unary_unary(ECHO, request_serializer=_same, response_deserializer=_same)
        future = echo.future(b"x", timeout=0.6)
        with pytest.raises(grpc.RpcError) as caught:
            future.result()
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # Without a deadline the activation bound answers UNAVAILABLE.
    error = failure(target, "zero.ns.localhost", timeout=10)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "had no ready replica after" in (error.details() or "")


def test_waiting_calls_are_answered_when_a_replica_arrives(
    grpc_gateway: tuple[Gateway, str], echo_a: EchoServer
) -> None:
    """Forty calls held at zero replicas all go out, on the connections opened for them."""
    gateway, target = grpc_gateway
    cold = [revision("ns/later", release="v1")]
    routes = [route("later.ns.localhost", ("ns/later", "v1", 100), service="later")]
    gateway.put(snapshot(6, cold, routes))
    options = [("grpc.default_authority", "later.ns.localhost")]
    with grpc.insecure_channel(target, options=options) as channel:
        echo = channel.unary_unary(ECHO, request_serializer=_same, response_deserializer=_same)
        calls = [echo.future(f"w{i}".encode(), timeout=10) for i in range(40)]
        time.sleep(0.5)
        assert not any(c.done() for c in calls)  # held: no replica yet
        gateway.put(snapshot(7, [_endpoint("ns/later", echo_a)], routes))
        answers = [c.result() for c in calls]
    assert answers == [f"a:w{i}".encode() for i in range(40)]
