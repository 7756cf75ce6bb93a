from __future__ import annotations

from mlservice.gateway.snapshot import (
    Backend,
    Endpoint,
    LoggerSpec,
    Revision,
    Route,
    RoutingSnapshot,
)


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
    assert RoutingSnapshot.from_json(snap.to_json()) == snap
