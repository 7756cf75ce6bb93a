"""The proxy as a real process: Host routing, split, release header, streaming, framing."""

from __future__ import annotations

import hashlib
import socket
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.gateway_procs import Gateway, Proc, revision, route, snapshot

pytestmark = pytest.mark.e2e
V1, V2 = "ns/svc-predict-v1-00001", "ns/svc-predict-v2-00001"


@pytest.fixture(autouse=True)
def routes(gateway: Gateway, up_a: Proc, up_b: Proc) -> None:
    gateway.put(
        snapshot(
            1,
            [revision(V1, up_a, release="v1"), revision(V2, up_b, release="v2")],
            [
                route("svc.ns.localhost", (V1, "v1", 80), (V2, "v2", 20)),
                route("svc-predict-v2.ns.localhost", (V2, "v2", 100), kind="release"),
                route("paused.ns.localhost", (V1, "v1", 100), service="paused", paused=True),
                route("empty.ns.localhost", service="empty"),
            ],
        )
    )


def test_host_routes_case_and_port_insensitively(client: httpx.Client) -> None:
    answer = client.post(
        "/v1/models/svc:predict", headers={"host": "SVC-Predict-V2.ns.localhost:8080"}, json={}
    )
    assert answer.status_code == 200
    assert answer.json()["name"] == "b"
    assert answer.json()["path"] == "/v1/models/svc:predict"
    assert answer.headers["x-mls-release"] == "v2"  # ours, not the replica's own


def test_unknown_host_is_404_naming_it(client: httpx.Client) -> None:
    answer = client.get("/v2", headers={"host": "nobody.ns.localhost"})
    assert answer.status_code == 404
    assert answer.json() == {"error": "No service answers to host 'nobody.ns.localhost'."}


def test_paused_service_is_503_paused(client: httpx.Client) -> None:
    answer = client.get("/v2", headers={"host": "paused.ns.localhost"})
    assert answer.status_code == 503
    assert "paused" in answer.json()["error"]


def test_a_route_without_backends_is_503(client: httpx.Client) -> None:
    answer = client.get("/v2", headers={"host": "empty.ns.localhost"})
    assert answer.status_code == 503
    assert "ns/empty" in answer.json()["error"]


def test_canary_split_follows_the_weights_and_names_the_release(client: httpx.Client) -> None:
    releases: Counter[str] = Counter()
    for _ in range(500):
        answer = client.get("/v2/models/svc", headers={"host": "svc.ns.localhost"})
        assert answer.status_code == 200
        name, release = answer.json()["name"], answer.headers["x-mls-release"]
        assert (name, release) in {("a", "v1"), ("b", "v2")}
        releases[release] += 1
    # 20% of 500 is 100 with a standard deviation of ~8.9: +-4 of them keeps this from flaking.
    assert 64 <= releases["v2"] <= 136


def test_release_host_always_hits_its_release(client: httpx.Client) -> None:
    for _ in range(50):
        answer = client.get("/", headers={"host": "svc-predict-v2.ns.localhost"})
        assert answer.headers["x-mls-release"] == "v2"


def test_traceparent_is_created_or_passed_on(client: httpx.Client) -> None:
    made = client.get("/", headers={"host": "svc-predict-v2.ns.localhost"}).json()
    assert made["headers"]["traceparent"].startswith("00-")
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    kept = client.get(
        "/", headers={"host": "svc-predict-v2.ns.localhost", "traceparent": given}
    ).json()
    assert kept["headers"]["traceparent"] == given


def test_bodies_keep_their_length_and_bytes(client: httpx.Client) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    answer = client.post("/", content=body, headers={"host": "svc-predict-v2.ns.localhost"})
    assert answer.json()["length"] == len(body)
    assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert answer.json()["headers"]["content-length"] == str(len(body))
    big = client.get(
        "/big", params={"n": 3_000_000}, headers={"host": "svc-predict-v2.ns.localhost"}
    )
    assert big.headers["content-length"] == "3000000"
    assert len(big.content) == 3_000_000


def test_a_chunked_upload_streams_through_and_back(client: httpx.Client) -> None:
    def pieces() -> Iterator[bytes]:
        for i in range(20):
            yield bytes([i]) * 10_000

    answer = client.post(
        "/stream-echo", content=pieces(), headers={"host": "svc-predict-v2.ns.localhost"}
    )
    assert answer.status_code == 200
    assert answer.content == b"".join(pieces())
    assert answer.headers["transfer-encoding"] == "chunked"


def test_server_sent_events_arrive_as_they_are_sent(gateway: Gateway) -> None:
    started = time.monotonic()
    arrivals = []
    with (
        httpx.Client(base_url=gateway.url, timeout=10) as http,
        http.stream(
            "GET",
            "/sse",
            params={"n": 3, "gap": 0.4},
            headers={"host": "svc-predict-v2.ns.localhost"},
        ) as answer,
    ):
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("data:"):
                arrivals.append((line, time.monotonic() - started))
    assert [line for line, _ in arrivals] == ["data: 0", "data: 1", "data: 2"]
    assert arrivals[0][1] < 0.35  # the first event did not wait for the stream to end
    assert arrivals[2][1] >= 0.75


def test_head_has_no_body_and_keeps_the_connection(client: httpx.Client) -> None:
    for _ in range(2):
        answer = client.head("/", headers={"host": "svc-predict-v2.ns.localhost"})
        assert answer.status_code == 200
        assert answer.content == b""


def _raw(gateway: Gateway, data: bytes, *, until: bytes, count: int) -> bytes:
    with socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])), 10) as sock:
        sock.sendall(data)
        received = b""
        while received.count(until) < count:
            more = sock.recv(65536)
            if not more:
                break
            received += more
        return received


def test_pipelined_requests_are_answered_in_order(gateway: Gateway) -> None:
    one = b"GET /first?s=0.2 HTTP/1.1\r\nHost: svc-predict-v2.ns.localhost\r\n\r\n"
    two = b"GET /second HTTP/1.1\r\nHost: svc-predict-v2.ns.localhost\r\n\r\n"
    received = _raw(gateway, one + two, until=b'"sha256"', count=2)
    assert received.index(b"/first") < received.index(b"/second")
    assert received.count(b"HTTP/1.1 200 OK") == 2


def test_expect_continue_is_answered_by_the_gateway(gateway: Gateway) -> None:
    head = (
        b"POST /up HTTP/1.1\r\nHost: svc-predict-v2.ns.localhost\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    port = int(gateway.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        answer = b""
        while b'"sha256"' not in answer:
            answer += sock.recv(65536)
    assert b'"length":5' in answer
    assert b"expect" not in answer.lower().split(b"\r\n\r\n", 1)[1]


def test_malformed_requests_get_400(gateway: Gateway) -> None:
    answer = _raw(gateway, b"NOT HTTP AT ALL\r\n\r\n", until=b"}", count=1)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"Malformed HTTP request" in answer


def test_an_http10_client_gets_a_streamed_answer_up_to_close(gateway: Gateway) -> None:
    request = b"GET /sse?n=2 HTTP/1.0\r\nHost: svc-predict-v2.ns.localhost\r\n\r\n"
    answer = _raw(gateway, request, until=b"\x00", count=1)  # read until the gateway closes
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"data: 0\n\ndata: 1\n\n"
