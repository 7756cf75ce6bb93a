"""A revision's queue, activation and replica bookkeeping; the routing table across snapshots."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlservice.errors import Unavailable
from mlservice.gateway.balancer import Replica
from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.revision import RevisionState
from mlservice.gateway.signals import (
    Activation,
    LoadReport,
    RevisionLoad,
    SignalHub,
    Window,
    signal_from_json,
    signal_to_json,
)
from mlservice.gateway.snapshot import Backend, Endpoint, Revision, Route, RoutingSnapshot
from mlservice.gateway.table import RoutingTable

pytestmark = pytest.mark.anyio


class Waiter:
    """Stands in for an exchange: records what the revision did with it."""

    def __init__(self) -> None:
        self.waiting = False
        self.replica: Replica | None = None
        self.redispatched = False

    def granted(self, replica: Replica) -> None:
        self.replica = replica

    def redispatch(self) -> None:
        self.redispatched = True


def _revision(*ports: int, concurrency: int = 0, activatable: bool = True) -> Revision:
    return Revision(
        id="ns/iris-predict-v1-00001",
        namespace="ns",
        service="iris",
        component="predict",
        release="v1",
        endpoints=tuple(Endpoint(f"r{p}", f"127.0.0.1:{p}") for p in ports),
        container_concurrency=concurrency,
        activatable=activatable,
    )


def _state(revision: Revision, **config: int) -> tuple[RevisionState, SignalHub]:
    hub = SignalHub()
    return RevisionState(revision, config=GatewayConfig(**config), hub=hub), hub  # type: ignore[arg-type]


async def test_container_concurrency_caps_each_replica_and_queues_the_rest() -> None:
    state, _ = _state(_revision(20001, 20002, concurrency=1))
    first, second, third = Waiter(), Waiter(), Waiter()
    a = state.acquire(first)
    b = state.acquire(second)
    assert a is not None
    assert b is not None
    assert a is not b
    assert state.acquire(third) is None
    assert third.waiting
    assert state.queued == 1
    state.release(a, code=200, seconds=0.01)
    assert third.replica is a
    assert not third.waiting
    assert state.queued == 0
    assert state.counters.codes == {200: 1}


async def test_queue_overflow_is_unavailable_naming_the_revision() -> None:
    state, _ = _state(_revision(20001, concurrency=1), queue_limit=1)
    assert state.acquire(Waiter()) is not None
    assert state.acquire(Waiter()) is None
    with pytest.raises(Unavailable, match=r"ns/iris-predict-v1-00001 has 1 requests queued"):
        state.acquire(Waiter())


async def test_a_revision_at_zero_holds_requests_and_activates_once() -> None:
    state, hub = _state(_revision())
    with hub.subscribe() as signals:
        waiters = [Waiter() for _ in range(5)]
        assert all(state.acquire(w) is None for w in waiters)
        assert state.queued == 5
        activation = signals.get_nowait()
        assert isinstance(activation, Activation)
        assert activation.revision == state.id
        assert signals.empty()  # one signal, not one per request
        state.update(_revision(20001))
        assert all(w.replica is not None for w in waiters)
        assert state.in_flight == 5


async def test_a_revision_that_cannot_activate_refuses_at_once() -> None:
    state, _ = _state(_revision(activatable=False))
    with pytest.raises(Unavailable, match="cannot be activated"):
        state.acquire(Waiter())


async def test_cancelled_waiters_are_skipped() -> None:
    state, _ = _state(_revision())
    gone, stays = Waiter(), Waiter()
    state.acquire(gone)
    state.acquire(stays)
    state.cancel(gone)
    state.update(_revision(20001, concurrency=1))
    assert gone.replica is None
    assert stays.replica is not None


async def test_a_refused_replica_is_ejected_and_another_one_tried() -> None:
    state, _ = _state(_revision(20001, 20002), eject_seconds=30)
    waiter = Waiter()
    first = state.acquire(waiter)
    assert first is not None
    second = state.retry(waiter, first)
    assert second is not None
    assert second is not first
    assert first.outstanding == 0
    assert state.acquire(Waiter()) is second  # the ejected one gets nothing new


async def test_a_silent_replica_is_not_ejected_and_another_one_preferred() -> None:
    state, _ = _state(_revision(1, 2, concurrency=1))
    first = state.acquire(Waiter())
    assert first is not None
    other = state.reroute(Waiter(), first)
    assert other is not None
    assert other is not first
    assert first.ejected_until == 0.0
    assert (first.outstanding, other.outstanding, state.in_flight) == (0, 1, 1)


async def test_a_silent_replica_alone_is_tried_again_or_waited_for() -> None:
    state, _ = _state(_revision(1, concurrency=1))
    only = state.acquire(Waiter())
    assert only is not None
    assert state.reroute(Waiter(), only) is only
    blocker = Waiter()
    assert state.acquire(blocker) is None  # the slot is taken again: the next one queues
    late = Waiter()
    assert state.reroute(late, only) is None  # its slot went to the one queued first
    assert blocker.replica is only
    assert late.waiting


async def test_a_vanished_replica_finishes_its_requests_and_gets_no_new_ones() -> None:
    state, _ = _state(_revision(20001, 20002))
    waiter = Waiter()
    busy = state.acquire(waiter)
    assert busy is not None
    kept_port = 20002 if busy.address.endswith("20001") else 20001
    state.update(_revision(kept_port))
    assert busy.removed
    assert not busy.pool.closed  # its request is still running
    for _ in range(3):
        replica = state.acquire(Waiter())
        assert replica is not None
        assert replica.address.endswith(str(kept_port))
    state.release(busy, code=200, seconds=0.1)
    assert busy.pool.closed


async def test_replicas_that_stay_keep_their_counts_and_a_new_port_is_a_new_replica() -> None:
    state, _ = _state(_revision(20001))
    replica = state.acquire(Waiter())
    state.update(replace(_revision(20001), timeout_seconds=5))
    assert state.replicas == [replica]
    assert state.replicas[0].outstanding == 1
    state.update(_revision(20009))
    assert state.replicas[0] is not replica


async def test_table_keeps_state_across_snapshots_and_reroutes_waiters_of_dropped_revisions() -> (
    None
):
    table = RoutingTable(config=GatewayConfig(), hub=SignalHub())
    old = _revision()
    new = replace(_revision(20001), id="ns/iris-predict-v1-00002")
    route = Route("iris.ns.d", "service", "ns", "iris", (Backend(old.id, "v1", 100),))
    table.replace(RoutingSnapshot(1, {old.id: old}, {route.host: route}))
    waiter = Waiter()
    state = table.revisions[old.id]
    assert state.acquire(waiter) is None
    moved = replace(route, backends=(Backend(new.id, "v1", 100),))
    table.replace(RoutingSnapshot(2, {new.id: new}, {route.host: moved}))
    assert waiter.redispatched
    assert table.routes["iris.ns.d"] == moved
    assert old.id not in table.revisions


async def test_window_averages_concurrency_over_time() -> None:
    window = Window(now=0.0)
    window.change(1, 0.0)
    window.change(1, 0.5)  # two held from 0.5 s on
    window.requests = 2
    average, requests = window.take(1.0)
    assert average == pytest.approx(1.5)
    assert requests == 2
    assert window.take(2.0) == (pytest.approx(2.0), 0)


async def test_signals_survive_json_and_slow_subscribers_lose_the_oldest() -> None:
    report = LoadReport(time=1.0, window=1.0, revisions=(RevisionLoad("r", 1.5, 3, 1, 0),))
    activation = Activation(revision="r", time=2.0, queued=4)
    for signal in (report, activation):
        assert signal_from_json(signal_to_json(signal)) == signal
    hub = SignalHub(backlog=2)
    with hub.subscribe() as queue:
        for i in range(3):
            hub.publish(Activation(revision=f"r{i}", time=0, queued=0))
        assert [queue.get_nowait().revision for _ in range(2)] == ["r1", "r2"]  # type: ignore[union-attr]
    assert hub.subscribers == 0
