from __future__ import annotations

from mlservice.gateway.snapshot import (
    DEFAULT_TIMEOUT_SECONDS,
    Backend,
    Endpoint,
    LoggerSpec,
    Revision,
    Route,
    RoutingSnapshot,
)
from mlservice.gateway.wire import dump_snapshot, parse_snapshot


def test_snapshot_survives_a_json_round_trip() -> None:
    rev = Revision(
        id="default/iris-predict-v1-00001",
        namespace="default",
        service="iris",
        component="predict",
        release="v1",
        endpoints=(Endpoint(replica="r0", address="127.0.0.1:20001"),),
        container_concurrency=4,
        logger=LoggerSpec(urls=("http://127.0.0.1:9/sink",), mode="request"),
    )
    route = Route(
        host="iris.default.localhost",
        kind="service",
        namespace="default",
        service="iris",
        backends=(Backend(revision=rev.id, release="v1", percent=100),),
    )
    snap = RoutingSnapshot(version=7, revisions={rev.id: rev}, routes={route.host: route})
    assert parse_snapshot(dump_snapshot(snap)) == snap


def test_left_out_fields_take_the_defaults_plain_construction_takes() -> None:
    body = b'{"version": 1, "revisions": [{"id": "ns/a-1", "namespace": "ns", "service": "a",'
    body += b' "component": "transform", "release": ""}]}'
    parsed = parse_snapshot(body).revisions["ns/a-1"]
    assert parsed == Revision("ns/a-1", "ns", "a", "transform", "")
    assert parsed.timeout_seconds == DEFAULT_TIMEOUT_SECONDS
    assert (parsed.container_concurrency, parsed.activatable, parsed.logger) == (0, True, None)
