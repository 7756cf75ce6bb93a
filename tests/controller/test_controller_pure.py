"""Pure decisions: status, traffic, routing snapshot, replica bounds, conditions, names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.controller import build_snapshot, replica_count
from mlservice.controller.conditions import Condition, conditions_json
from mlservice.controller.reconciler import render_failure, soonest
from mlservice.controller.routing import ServiceRoutes, Settings, activatable, routed_revision
from mlservice.controller.status import health, mlservice_status, traffic_percent
from mlservice.controller.track import Failure, TrackView
from mlservice.engine import ReplicaId, ReplicaState, RevisionId
from mlservice.errors import InvalidInput, MLServiceError, TemplateError
from mlservice.gateway.snapshot import Endpoint, Revision
from mlservice.naming import Hosts
from mlservice.resources import MLService, parse_as

HOSTS = Hosts("example.test", 8080)
NOW = "2030-01-01T00:00:00Z"


def service(**spec: Any) -> MLService:
    releases = [
        {"name": name, "predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}
        for name in spec.pop("names", ["v1"])
    ]
    manifest = {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "svc", "namespace": "ns", "generation": 3},
        "spec": {"default": "v1", "releases": releases, **spec},
    }
    return parse_as(MLService, manifest)


def replica(
    revision: str, *, ready: bool = True, phase: str = "Running", n: int = 1
) -> ReplicaState:
    return ReplicaState(
        id=ReplicaId(f"{revision}-r{n}"),
        revision_id=RevisionId(f"ns/{revision}"),
        phase=phase,  # type: ignore[arg-type]
        ready=ready,
        pid=None,
        port=20000 + n,
        grpc_port=21000 + n,
        restarts=0,
        reason=phase if phase != "Running" else "",
        message="container user-container exited with code 1" if phase != "Running" else "",
    )


def view(serving: str | None = "rev-1", latest: str | None = None, **kw: Any) -> TrackView:
    latest = latest or serving
    replicas = kw.pop("replicas", {serving: (replica(serving),)} if serving else {})
    return TrackView(latest=latest, serving=serving, hash="h", scale=kw.pop("scale", 1),
                     failure=kw.pop("failure", None), replicas=replicas)  # fmt: skip


# -- health and status -------------------------------------------------------------------------


CRASHED = {"rev-1": (replica("rev-1", ready=False, phase="CrashLoopBackOff"),)}
STARTING = {"rev-1": (replica("rev-1", ready=False, phase="Starting"),)}
NO_VOLUME = Failure("ModelDownloadFailed", "no volume")
NO_PROGRAM = Failure("RuntimeUnavailable", "x")


@pytest.mark.parametrize(
    ("track", "paused", "expected"),
    [
        (view(), False, (True, "")),
        (view(), True, (False, "Paused")),
        (view(serving=None, latest="rev-1", replicas={}), False, (False, "Deploying")),
        (view(latest="rev-2"), False, (True, "RollingOut")),
        (view(failure=NO_VOLUME), False, (True, "ModelDownloadFailed")),
        (
            view(serving=None, latest="r", replicas={}, failure=NO_PROGRAM),
            False,
            (False, "RuntimeUnavailable"),
        ),
        (view(replicas=CRASHED), False, (False, "CrashLoopBackOff")),
        (view(replicas=STARTING), False, (False, "NoReadyReplicas")),
        (view(replicas={"rev-1": ()}, scale=0), False, (True, "")),  # scaled to zero stays ready
    ],
)
def test_health(track: TrackView, paused: bool, expected: tuple[bool, str]) -> None:
    state = health(track, paused=paused)
    assert (state.ready, state.reason) == expected


def waiting_for_gpus(revision: str) -> ReplicaState:
    return replace(
        replica(revision, ready=False, phase="Pending", n=2),
        reason="Unschedulable",
        message="needs 2 GPUs (nvidia.com/gpu), this machine lists 0.",
    )


def test_a_replica_waiting_for_gpus_is_named_until_another_one_serves() -> None:
    alone = {"rev-1": (waiting_for_gpus("rev-1"),)}
    new = health(view(serving=None, latest="rev-1", replicas=alone), paused=False)
    assert (new.ready, new.reason) == (False, "Unschedulable")
    assert new.message == "Revision rev-1: needs 2 GPUs (nvidia.com/gpu), this machine lists 0."
    rolling = {"rev-1": (replica("rev-1"),), "rev-2": (waiting_for_gpus("rev-2"),)}
    assert health(view(latest="rev-2", replicas=rolling), paused=False).reason == "Unschedulable"
    # One replica serves and a second waits for a GPU: the service is ready, as on a cluster.
    scaled = {"rev-1": (replica("rev-1"), waiting_for_gpus("rev-1"))}
    assert health(view(replicas=scaled, scale=2), paused=False).reason == ""


def test_status_shape_follows_the_reference() -> None:
    svc = service(names=["v1", "v2", "v3"], canary="v2", canaryTrafficPercent=30)
    views = {
        "v1": view("a-1"),
        "v2": view("b-1"),
        "v3": view(serving=None, latest="c-1", replicas={}),
    }
    status = mlservice_status(
        svc, releases=views, transformer=None, hosts=HOSTS, previous=None, now=NOW
    )
    assert list(status) == [
        "observedGeneration", "address", "defaultRelease", "canaryRelease", "conditions",
        "releases", "ready",
    ]  # fmt: skip
    assert status["observedGeneration"] == 3
    assert status["ready"] is True  # v3 takes no traffic; it does not hold the service back
    assert [(r["name"], r["ready"], r["trafficPercent"]) for r in status["releases"]] == [
        ("v1", True, 70), ("v2", True, 30), ("v3", False, 0),
    ]  # fmt: skip
    assert list(status["releases"][0])[:6] == [
        "name", "ready", "readyReplicas", "totalReplicas", "trafficPercent", "url",
    ]  # fmt: skip
    assert status["releases"][2]["message"] == "Waiting for revision c-1 to become ready."
    assert status["releases"][0]["endpoints"] == [
        {
            "replica": "a-1-r1",
            "revision": "a-1",
            "http": "127.0.0.1:20001",
            "grpc": "127.0.0.1:21001",
        }
    ]
    assert [c["type"] for c in status["conditions"]] == ["Paused", "Ready"]


def test_ready_condition_names_the_release_at_fault() -> None:
    failing = view(
        serving=None, latest="a-1", replicas={}, failure=Failure("ModelDownloadFailed", "Gone.")
    )
    status = mlservice_status(
        service(), releases={"v1": failing}, transformer=None, hosts=HOSTS, previous=None, now=NOW
    )
    ready = status["conditions"][1]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ModelDownloadFailed", "Release v1: Gone.",
    )  # fmt: skip
    assert status["ready"] is False


def test_urls_leave_out_port_80() -> None:
    hosts = Hosts("localhost", 80)
    assert hosts.url(hosts.service("a", "b")) == "http://a.b.localhost"
    assert HOSTS.url(HOSTS.release("a", "b", "v1")) == "http://a-predict-v1.b.example.test:8080"


@settings(deadline=None)
@given(st.integers(0, 100), st.booleans())
def test_traffic_of_default_and_canary_sums_to_100(percent: int, with_canary: bool) -> None:
    extra = {"canary": "v2", "canaryTrafficPercent": percent} if with_canary else {}
    svc = service(names=["v1", "v2", "v3"], **extra)
    shares = [traffic_percent(svc.spec, r) for r in ("v1", "v2", "v3")]
    assert sum(shares) == 100
    assert shares[2] == 0
    assert shares[1] == (percent if with_canary else 0)


# -- conditions ---------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.booleans(), st.booleans(), st.text(max_size=5))
def test_last_transition_time_moves_only_on_a_flip(before: bool, after: bool, reason: str) -> None:
    earlier = conditions_json([Condition("Ready", before)], None, now="T1")
    later = conditions_json([Condition("Ready", after, reason)], earlier, now="T2")
    assert later[0]["lastTransitionTime"] == ("T1" if before == after else "T2")
    assert later[0]["status"] == ("True" if after else "False")


# -- routing ------------------------------------------------------------------------------------


def revision(name: str, release: str = "v1") -> Revision:
    return Revision(
        id=f"ns/{name}", namespace="ns", service="svc", component="predict", release=release
    )


@settings(deadline=None)
@given(
    st.integers(0, 100),
    st.sampled_from([("v1", "v2"), ("v1",), ("v2",)]),
    st.booleans(),
)
def test_split_backends_sum_to_100(percent: int, present: tuple[str, ...], paused: bool) -> None:
    routes = ServiceRoutes(
        kind="MLService",
        namespace="ns",
        name="svc",
        releases={r: revision(f"svc-predict-{r}-00001", r) for r in present},
        default="v1",
        canary="v2",
        canary_percent=percent,
        paused=paused,
    )
    snapshot = build_snapshot([routes], hosts=HOSTS, version=7)
    for host in ("svc.ns.example.test", "svc-predictor.ns.example.test"):
        route = snapshot.routes[host]
        assert sum(b.percent for b in route.backends) == 100
        assert all(b.percent > 0 for b in route.backends)
        assert route.paused is paused
    for release in present:
        (backend,) = snapshot.routes[f"svc-predict-{release}.ns.example.test"].backends
        assert (backend.release, backend.percent) == (release, 100)
    assert snapshot.version == 7
    assert set(snapshot.revisions) == {f"ns/svc-predict-{r}-00001" for r in present}


def test_transformer_fronts_the_service_host_and_simple_has_its_own() -> None:
    chain = Revision(
        id="ns/svc-transform-00001",
        namespace="ns",
        service="svc",
        component="transform",
        release="",
    )
    svc = ServiceRoutes(
        kind="MLService",
        namespace="ns",
        name="svc",
        releases={"v1": revision("svc-predict-v1-00001")},
        transformer=chain,
        default="v1",
    )
    simple = ServiceRoutes(
        kind="SimpleMLService",
        namespace="ns",
        name="files",
        releases={"": revision("files-simple-00001", "")},
    )
    routes = build_snapshot([svc, simple], hosts=HOSTS, version=1).routes
    assert {h: r.kind for h, r in routes.items()} == {
        "svc-predictor.ns.example.test": "predictor",
        "svc-predict-v1.ns.example.test": "release",
        "svc-transformer.ns.example.test": "transformer",
        "svc.ns.example.test": "service",
        "files.ns.svc.example.test": "simple",
    }
    assert [b.revision for b in routes["svc.ns.example.test"].backends] == [
        "ns/svc-transform-00001"
    ]
    assert [b.revision for b in routes["svc-predictor.ns.example.test"].backends] == [
        "ns/svc-predict-v1-00001"
    ]
    simple_backends = routes["files.ns.svc.example.test"].backends
    assert [b.revision for b in simple_backends] == ["ns/files-simple-00001"]


# -- replica counts and names ---------------------------------------------------------------------


@settings(deadline=None)
@given(
    st.none() | st.integers(0, 50),
    st.integers(0, 10),
    st.none() | st.integers(0, 20),
    st.none() | st.integers(1, 8),
)
def test_replica_count_stays_within_bounds(
    wanted: int | None, low: int, high: int | None, cap: int | None
) -> None:
    if high:
        high = max(high, low)  # validation refuses maxReplicas below minReplicas
    count = replica_count(wanted=wanted, min_replicas=low, max_replicas=high, cap=cap)
    ceiling = min(x for x in (high or None, cap, 10**9) if x is not None)
    assert 0 <= count <= ceiling
    if wanted is None:
        assert count == min(max(1, low), ceiling)  # at least one until an autoscaler says so
    else:
        assert count == min(max(wanted, low), ceiling)


def test_a_routed_revision_carries_each_ready_replicas_grpc_port() -> None:
    """The gateway's h2c path reaches a replica's gRPC server at the port the engine gave it."""
    states = (replica("rev-1", n=1), replica("rev-1", n=2, ready=False))
    routed = routed_revision(
        view(replicas={"rev-1": states}),
        namespace="ns",
        service="svc",
        component="predict",
        release="v1",
        settings=Settings(),
        activatable=True,
    )
    assert routed is not None
    assert routed.endpoints == (Endpoint("rev-1-r1", "127.0.0.1:20001", "127.0.0.1:21001"),)


# -- a pass's shared decisions ---------------------------------------------------------------


def test_a_pass_retries_after_the_soonest_delay_asked() -> None:
    assert soonest([None, 5.0, 0.5, None]) == 0.5
    assert soonest([None, None]) is None
    assert soonest([]) is None


def test_a_spec_that_cannot_render_fails_with_a_reason_naming_the_manifest() -> None:
    assert render_failure(InvalidInput("bad pod")) == Failure("InvalidSpec", "bad pod")
    assert render_failure(MLServiceError("broken")) == Failure("InvalidSpec", "broken")
    assert render_failure(TemplateError("no such key")).reason == "InvalidTemplate"


def test_only_a_component_that_can_still_run_is_activatable() -> None:
    assert activatable(view(None, "rev-1"))
    assert not activatable(view(None, "rev-1", failure=NO_VOLUME))
    assert activatable(view("rev-1", "rev-2", failure=NO_VOLUME))
    assert not activatable(view("rev-1"), paused=True)
