"""The running autoscaler: signals in, ticks on a real event loop, listeners told of changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from mlservice.autoscaler import Autoscaler, AutoscalerSettings
from mlservice.engine import RevisionId
from mlservice.gateway.signals import Activation, LoadReport, RevisionLoad, Signal
from tests.autoscaler.autoscaler_sim import REV, Sim
from tests.support.polling import wait_until_async

pytestmark = pytest.mark.anyio


async def _signals(queue: asyncio.Queue[Signal | None]) -> AsyncIterator[Signal]:
    while (signal := await queue.get()) is not None:
        yield signal


async def _until(predicate: Callable[[], bool], *, within: float = 5.0) -> None:
    await wait_until_async(predicate, timeout=within, interval=0.005)


async def test_activation_answers_at_once_and_ticks_follow_load() -> None:
    settings = AutoscalerSettings(tick=0.05, stable_window=6.0, initial_scale=0)
    changes: list[RevisionId] = []
    scaler = Autoscaler(settings=settings)
    scaler.subscribe(changes.append)
    scaler.configure(REV, min_replicas=0)
    assert scaler.desired(REV) == 0
    queue: asyncio.Queue[Signal | None] = asyncio.Queue()
    running = asyncio.create_task(scaler.run(_signals(queue)))
    try:
        queue.put_nowait(Activation(revision=REV, time=time.time(), queued=1))
        await _until(lambda: scaler.desired(REV) == 1, within=0.04)  # sooner than a tick
        assert changes == [REV]
        load = RevisionLoad(REV, concurrency=700.0, requests=50, in_flight=700, queued=0)
        queue.put_nowait(LoadReport(time=time.time(), window=1.0, revisions=(load,)))
        await _until(lambda: (scaler.desired(REV) or 0) > 1)
        decision = scaler.last_decision(REV)
        assert decision is not None
        assert decision.mode == "panic"
    finally:
        queue.put_nowait(None)
        await asyncio.wait_for(running, timeout=2)


async def test_a_cancelled_run_stops_its_ticker() -> None:
    scaler = Autoscaler(settings=AutoscalerSettings(tick=0.01))
    queue: asyncio.Queue[Signal | None] = asyncio.Queue()
    running = asyncio.create_task(scaler.run(_signals(queue)))
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    names = {t.get_coro().__qualname__ for t in asyncio.all_tasks()}  # type: ignore[union-attr]
    assert not any("tick" in name for name in names)


def test_new_bounds_reclamp_and_notify() -> None:
    sim = Sim(max_replicas=5)
    sim.run([3000.0] * 10)
    assert sim.desired == 5
    changes: list[RevisionId] = []
    sim.scaler.subscribe(changes.append)
    sim.scaler.configure(REV, max_replicas=2)
    assert (sim.desired, changes) == (2, [REV])
    sim.scaler.configure(REV, max_replicas=2)
    assert changes == [REV]  # unchanged policy: no notification


def test_unsubscribe_and_forget() -> None:
    scaler = Autoscaler()
    changes: list[RevisionId] = []
    unsubscribe = scaler.subscribe(changes.append)
    scaler.configure(
        REV, min_replicas=0, annotations={"autoscaling.knative.dev/initial-scale": "0"}
    )
    unsubscribe()
    scaler.observe(Activation(revision=REV, time=0.0, queued=1))
    assert changes == []
    assert scaler.desired(REV) == 1
    scaler.forget(REV)
    assert scaler.desired(REV) is None
    assert scaler.revisions() == []


def test_unknown_revisions_are_ignored() -> None:
    scaler = Autoscaler()
    other = RevisionId("default/other-predict-v1-00001")
    load = RevisionLoad(other, concurrency=50.0, requests=5, in_flight=1, queued=0)
    scaler.observe(LoadReport(time=time.time(), window=1.0, revisions=(load,)))
    scaler.observe(Activation(revision=other, time=time.time(), queued=1))
    scaler.tick()
    assert scaler.desired(other) is None


def test_ready_counts_follow_replica_events() -> None:
    sim = Sim(settings=AutoscalerSettings(stable_window=6.0))
    sim.run([150.0] * 10)
    assert sim.desired == 3
    decision = sim.scaler.last_decision(REV)
    assert decision is not None
    assert decision.ready == 3


def test_revisions_the_controller_stopped_are_forgotten() -> None:
    running = {REV}
    scaler = Autoscaler(alive=lambda revision: revision in running)
    scaler.configure(REV)
    scaler.observe(LoadReport(time=time.time(), window=1.0, revisions=()))
    scaler.tick()
    assert scaler.revisions() == [REV]
    running.clear()
    scaler.tick()
    assert scaler.revisions() == []


async def test_start_ticks_in_the_background_until_closed() -> None:
    settings = AutoscalerSettings(tick=0.01, stable_window=6.0)
    scaler = Autoscaler(settings=settings)
    scaler.configure(REV, max_replicas=4)
    scaler.start()
    try:
        load = RevisionLoad(REV, concurrency=700.0, requests=50, in_flight=700, queued=0)
        scaler.observe(LoadReport(time=time.time(), window=1.0, revisions=(load,)))
        await _until(lambda: scaler.desired(REV) == 4)
    finally:
        await scaler.close()
    names = {t.get_coro().__qualname__ for t in asyncio.all_tasks()}  # type: ignore[union-attr]
    assert not any("tick" in name for name in names)
