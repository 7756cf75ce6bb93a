"""Pure decisions: host keys, the traffic split, least outstanding requests, snapshot deltas."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.errors import Conflict
from mlservice.gateway import hosts
from mlservice.gateway.balancer import Replica, least_outstanding
from mlservice.gateway.delta import apply, diff
from mlservice.gateway.snapshot import Backend, Endpoint, Revision, Route, RoutingSnapshot
from mlservice.gateway.split import choose, pick
from mlservice.gateway.trace import is_valid, new_traceparent


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"Iris.Default.localhost:8080", "iris.default.localhost"),
        (b"iris.default.localhost.", "iris.default.localhost"),
        (b"IRIS-predict-V1.ns.example.com", "iris-predict-v1.ns.example.com"),
        (b"[::1]:80", "[::1]"),
        (b"", ""),
    ],
)
def test_route_key_drops_port_case_and_trailing_dot(raw: bytes, key: str) -> None:
    assert hosts.route_key(raw) == key
    assert hosts.HostKeys(limit=2)(raw) == key


def test_host_memo_stays_bounded() -> None:
    keys = hosts.HostKeys(limit=3)
    for i in range(10):
        assert keys(f"h{i}.ns.d:1".encode()) == f"h{i}.ns.d"
    assert len(keys._known) <= 3


percents = st.integers(min_value=0, max_value=100)


@st.composite
def split_backends(draw: st.DrawFn) -> list[Backend]:
    canary = draw(percents)
    return [Backend("a", "v1", 100 - canary), Backend("b", "v2", canary)]


@settings(deadline=None)
@given(split_backends(), st.floats(min_value=0, max_value=100, exclude_max=True))
def test_every_roll_lands_on_a_backend_with_weight(backends: list[Backend], roll: float) -> None:
    assert sum(b.percent for b in backends) == 100
    chosen = pick(backends, roll)
    assert chosen is not None
    assert chosen.percent > 0


@settings(max_examples=30, deadline=None)
@given(split_backends())
def test_split_proportions_follow_the_weights(backends: list[Backend]) -> None:
    random.seed(7)
    n = 4000
    counts = Counter(b.release for b in (choose(backends) for _ in range(n)) if b)
    for backend in backends:
        share = counts[backend.release] / n * 100
        assert abs(share - backend.percent) < 3.5, (backends, counts)


def test_no_weight_means_no_backend() -> None:
    assert choose([Backend("a", "v1", 0)]) is None
    assert pick([], 50.0) is None


def _replicas(loads: list[int]) -> list[Replica]:
    found = []
    for i, load in enumerate(loads):
        replica = Replica(Endpoint(f"r{i}", f"127.0.0.1:{20000 + i}"), idle_seconds=1)
        replica.outstanding = load
        found.append(replica)
    return found


@settings(deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5), max_size=6),
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=10),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_least_outstanding_takes_the_least_loaded_usable_replica(
    loads: list[int], limit: int, start: int, ejected: list[bool]
) -> None:
    replicas = _replicas(loads)
    for replica, out in zip(replicas, ejected, strict=False):
        replica.ejected_until = 10.0 if out else 0.0
    eligible = [
        r for r in replicas if r.ejected_until <= 5.0 and (not limit or r.outstanding < limit)
    ]
    chosen = least_outstanding(replicas, limit=limit, now=5.0, start=start)
    if not eligible:
        assert chosen is None
    else:
        assert chosen in eligible
        assert chosen is not None
        assert chosen.outstanding == min(r.outstanding for r in eligible)


def test_removed_replicas_get_nothing_and_ties_rotate() -> None:
    replicas = _replicas([0, 0, 0])
    replicas[1].removed = True
    picked = {least_outstanding(replicas, limit=0, now=0, start=s) for s in range(6)}
    assert picked == {replicas[0], replicas[2]}


def _revision(i: int, ports: tuple[int, ...]) -> Revision:
    endpoints = tuple(Endpoint(f"r{p}", f"127.0.0.1:{p}") for p in ports)
    return Revision(f"ns/s-predict-v{i}-00001", "ns", "s", "predict", f"v{i}", endpoints)


snapshots = st.builds(
    lambda version, revs, hosts_: RoutingSnapshot(
        version=version,
        revisions={r.id: r for r in revs},
        routes={
            h: Route(h, "release", "ns", "s", (Backend(revs[0].id, "v", 100),) if revs else ())
            for h in hosts_
        },
    ),
    st.integers(min_value=0, max_value=1000),
    st.lists(
        st.builds(
            _revision,
            st.integers(min_value=0, max_value=5),
            st.tuples(st.integers(min_value=20000, max_value=20005)),
        ),
        max_size=4,
    ),
    st.sets(st.sampled_from(["a.ns.d", "b.ns.d", "c.ns.d"])),
)


@settings(deadline=None)
@given(snapshots, snapshots)
def test_a_delta_turns_the_old_snapshot_into_the_new(
    old: RoutingSnapshot, new: RoutingSnapshot
) -> None:
    delta = diff(old, new)
    assert apply(old, delta) == new
    assert diff(new, new).empty


def test_a_delta_for_another_base_is_a_conflict() -> None:
    old = RoutingSnapshot(version=3)
    delta = diff(RoutingSnapshot(version=2), RoutingSnapshot(version=4))
    with pytest.raises(Conflict, match="base version 2 does not apply to version 3"):
        apply(old, delta)


def test_traceparent_is_w3c() -> None:
    value = new_traceparent()
    assert is_valid(value)
    assert value != new_traceparent()
    assert not is_valid(b"00-" + b"0" * 32 + b"-" + b"1" * 16 + b"-01")
    assert not is_valid(b"garbage")
