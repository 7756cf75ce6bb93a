"""Admin payloads are checked whole, with errors naming the field; heads are rewritten right."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from mlservice.errors import InvalidInput
from mlservice.gateway import httpwire
from mlservice.gateway.delta import diff
from mlservice.gateway.snapshot import (
    Backend,
    Endpoint,
    LoggerSpec,
    Revision,
    Route,
    RoutingSnapshot,
)
from mlservice.gateway.wire import dump_delta, dump_snapshot, parse_delta, parse_snapshot

REVISION = Revision(
    id="ns/iris-predict-v1-00001",
    namespace="ns",
    service="iris",
    component="predict",
    release="v1",
    endpoints=(Endpoint("r0", "127.0.0.1:20001", "127.0.0.1:20002"),),
    container_concurrency=2,
    timeout_seconds=30.0,
    logger=LoggerSpec(urls=("http://127.0.0.1:9/",), mode="response"),
)
ROUTE = Route("Iris.ns.localhost", "service", "ns", "iris", (Backend(REVISION.id, "v1", 100),))


def test_a_snapshot_round_trips_and_hosts_are_lower_cased() -> None:
    snap = RoutingSnapshot(7, {REVISION.id: REVISION}, {ROUTE.host: ROUTE})
    parsed = parse_snapshot(dump_snapshot(snap))
    assert parsed.revisions == snap.revisions
    assert list(parsed.routes) == ["iris.ns.localhost"]
    assert parsed.version == 7


def test_a_logger_without_a_flavor_is_ours_and_a_kserve_one_round_trips() -> None:
    """Routes saved or pushed without `flavor` (an older `mls up`) keep our events."""
    doc = orjson.loads(dump_snapshot(RoutingSnapshot(1, {REVISION.id: REVISION})))
    del doc["revisions"][0]["logger"]["flavor"]
    logger = parse_snapshot(orjson.dumps(doc)).revisions[REVISION.id].logger
    assert logger == LoggerSpec(urls=("http://127.0.0.1:9/",), mode="response")
    assert logger.flavor == "mlservice"
    kserve = dataclasses.replace(REVISION, logger=LoggerSpec(urls=(), flavor="kserve"))
    parsed = parse_snapshot(dump_snapshot(RoutingSnapshot(2, {kserve.id: kserve})))
    assert parsed.revisions[kserve.id] == kserve


def test_a_delta_round_trips() -> None:
    old = RoutingSnapshot(1)
    new = RoutingSnapshot(2, {REVISION.id: REVISION})
    delta = diff(old, new)
    assert parse_delta(dump_delta(delta)) == delta


def test_the_wire_format_is_the_one_both_processes_speak() -> None:
    """The gateway and `mls up` are separate processes: these keys are the contract."""
    snap = RoutingSnapshot(7, {REVISION.id: REVISION}, {ROUTE.host: ROUTE})
    assert orjson.loads(dump_snapshot(snap)) == {
        "version": 7,
        "revisions": [
            {
                "id": "ns/iris-predict-v1-00001",
                "namespace": "ns",
                "service": "iris",
                "component": "predict",
                "release": "v1",
                "endpoints": [
                    {"replica": "r0", "address": "127.0.0.1:20001", "grpc": "127.0.0.1:20002"}
                ],
                "container_concurrency": 2,
                "timeout_seconds": 30.0,
                "logger": {
                    "urls": ["http://127.0.0.1:9/"],
                    "mode": "response",
                    "flavor": "mlservice",
                },
                "activatable": True,
            }
        ],
        "routes": [
            {
                "host": "Iris.ns.localhost",
                "kind": "service",
                "namespace": "ns",
                "service": "iris",
                "backends": [{"revision": REVISION.id, "release": "v1", "percent": 100}],
                "paused": False,
                "shadow": None,
            }
        ],
    }
    delta = orjson.loads(dump_delta(diff(snap, RoutingSnapshot(8))))
    assert delta == {
        "base": 7,
        "version": 8,
        "revisions": [],
        "removed_revisions": [REVISION.id],
        "routes": [],
        "removed_routes": [ROUTE.host],
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["revisions"][0].update(timeout_seconds=0), r"revisions\.0\.timeout_seconds"),
        (lambda d: d["revisions"][0].update(component="predictor"), r"revisions\.0\.component"),
        (lambda d: d["revisions"][0]["endpoints"][0].update(address="nowhere"), "address"),
        (lambda d: d["revisions"][0]["endpoints"][0].update(grpc="nowhere"), r"endpoints\.0\.grpc"),
        (lambda d: d["routes"][0].update(kind="weird"), r"routes\.0\.kind"),
        (lambda d: d["routes"][0]["backends"][0].update(percent=101), "percent"),
        (lambda d: d["routes"][0]["backends"][0].update(percent=60), "summing to 60, not 100"),
        (lambda d: d.update(extra=1), "field extra is invalid: Extra inputs are not permitted"),
        (lambda d: d["revisions"][0]["logger"].update(level=1), r"revisions\.0\.logger\.level"),
        (lambda d: d["revisions"][0]["logger"].update(flavor="seldon"), r"logger\.flavor"),
        (lambda d: d["revisions"][0].update(id=""), r"revisions\.0\.id"),
        (lambda d: d["revisions"][0].update(container_concurrency=-1), "container_concurrency"),
        (lambda d: d.pop("version"), "version"),
    ],
)
def test_a_bad_snapshot_is_refused_naming_the_field(mutate: object, message: str) -> None:
    doc = orjson.loads(
        dump_snapshot(RoutingSnapshot(1, {REVISION.id: REVISION}, {ROUTE.host: ROUTE}))
    )
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=message):
        parse_snapshot(orjson.dumps(doc))


def test_a_delta_is_checked_like_a_snapshot() -> None:
    delta = orjson.loads(
        dump_delta(diff(RoutingSnapshot(1), RoutingSnapshot(2, {}, {ROUTE.host: ROUTE})))
    )
    delta["routes"][0]["backends"][0]["percent"] = 40
    with pytest.raises(InvalidInput, match=r"routing delta field routes\.0 .*summing to 40"):
        parse_delta(orjson.dumps(delta))
    with pytest.raises(InvalidInput, match="routing delta field base"):
        parse_delta(b'{"version": 2}')


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput, match="routing snapshot"):
        parse_snapshot(b"{not json")


def test_request_head_drops_hop_by_hop_and_adds_a_traceparent() -> None:
    headers = [
        (b"Host", b"iris.ns.localhost"),
        (b"Connection", b"keep-alive, X-Secret-Hop"),
        (b"X-Secret-Hop", b"1"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Expect", b"100-continue"),
        (b"Content-Type", b"image/png"),
        (b"traceparent", b"not-valid"),
    ]
    head = httpwire.RequestHead(b"POST", b"/v1/models/m:predict", headers)
    text = head.data.decode()
    assert text.startswith("POST /v1/models/m:predict HTTP/1.1\r\n")
    assert "Host: iris.ns.localhost\r\n" in text
    assert "X-Secret-Hop" not in text
    assert "Connection" not in text
    assert "Expect" not in text
    assert "not-valid" not in text
    assert f"traceparent: {head.traceparent.decode()}\r\n" in text
    assert text.endswith("transfer-encoding: chunked\r\n\r\n")
    assert head.chunked
    assert head.expect_continue
    assert head.host == b"iris.ns.localhost"
    assert head.content_type == b"image/png"


def test_request_head_keeps_a_valid_traceparent() -> None:
    given = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    head = httpwire.RequestHead(b"GET", b"/", [(b"traceparent", given)])
    assert head.traceparent == given
    assert head.data.count(b"traceparent") == 1


def test_response_head_sets_the_release_and_frames_unknown_lengths() -> None:
    upstream = [(b"x-mls-release", b"other"), (b"Content-Type", b"text/event-stream")]
    upstream.append((b"Transfer-Encoding", b"chunked"))
    head = httpwire.ResponseHead(
        200, b"OK", upstream, release=b"v2", body_allowed=True, http11=True, keep_alive=True
    )
    assert head.data == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-mls-release: v2\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    assert head.chunk_out
    passed = httpwire.ResponseHead(
        200,
        b"OK",
        [(b"content-length", b"2"), (b"x-mls-release", b"v1")],
        release=None,
        body_allowed=True,
        http11=False,
        keep_alive=False,
    )
    assert passed.release == b"v1"  # a transformer's answer keeps the predictor's release
    assert not passed.chunk_out
    assert passed.data.endswith(b"x-mls-release: v1\r\nconnection: close\r\n\r\n")


def test_error_response_is_json_with_length() -> None:
    data = httpwire.error_response(404, "No service answers to host 'x'.", close=False)
    head, body = data.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found")
    assert f"content-length: {len(body)}".encode() in head
    assert orjson.loads(body) == {"error": "No service answers to host 'x'."}
