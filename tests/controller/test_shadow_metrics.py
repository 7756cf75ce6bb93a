"""status.shadow: the gateway's per-second shadow counts summed over a recent window, written by
the MLService controller at most once per tick."""

from __future__ import annotations

import pytest

from mlservice.controller import ControllerConfig, Controllers, MemorySink
from mlservice.controller.builtin import install_builtin_runtimes
from mlservice.controller.kinds import KINDS
from mlservice.controller.shadow_metrics import (
    TICK,
    WINDOW,
    ShadowMetrics,
    shadow_status,
    with_shadows,
)
from mlservice.engine import RevisionId
from mlservice.engine.fake import FakeEngine
from mlservice.gateway.signals import LoadReport, ShadowLoad
from mlservice.home import Home
from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore
from tests.controller.analysis_helpers import Clock
from tests.controller.controller_helpers import World, mlservice

V2 = RevisionId("ns/iris-predict-v2-00001")


def report(
    at: float,
    *,
    sent: int = 0,
    dropped: int = 0,
    errors: int = 0,
    agree: int = 0,
    disagree: int = 0,
    seconds: float = 0.0,
) -> LoadReport:
    load = ShadowLoad(
        revision=V2,
        sent=sent,
        dropped=dropped,
        errors=errors,
        agree=agree,
        disagree=disagree,
        incomparable=0,
        seconds=seconds,
    )
    return LoadReport(time=at, window=1.0, revisions=(), shadows=(load,))


def test_the_window_sums_the_seconds_in_it_and_forgets_old_ones() -> None:
    metrics = ShadowMetrics()
    metrics.observe(report(100.0, sent=5, agree=4, disagree=1, seconds=0.5))
    metrics.observe(report(101.0, sent=3, dropped=2, errors=1, agree=1, disagree=2, seconds=0.3))
    found = metrics.shadow_window(V2, since=99.0, until=101.0)
    assert (found.sent, found.dropped, found.errors) == (8, 2, 1)
    assert (found.agree, found.disagree, found.agreement) == (5, 3, 5 / 8)
    assert metrics.shadow_window(V2, since=100.0, until=101.0).sent == 3
    metrics.observe(report(102.0 + WINDOW + TICK, sent=1))
    assert metrics.shadow_window(V2, since=0.0, until=10_000.0).sent == 1


def test_status_rounds_the_window_to_the_tick() -> None:
    metrics = ShadowMetrics()
    metrics.observe(report(1000.0, sent=10, agree=9, disagree=1, seconds=1.0))
    metrics.observe(report(1005.0, sent=10, agree=10))
    before = shadow_status(metrics, release="v2", revision_id=V2, now=1004.0)
    assert before == shadow_status(metrics, release="v2", revision_id=V2, now=1009.9)
    assert (before["sent"], before["agreement"], before["meanLatencyMs"]) == (10, 0.9, 100.0)
    assert before["revision"] == "iris-predict-v2-00001"
    assert before["window"] == "300s"
    after = shadow_status(metrics, release="v2", revision_id=V2, now=1010.0)
    assert (after["sent"], after["agree"], after["agreement"]) == (20, 19, 0.95)


def test_nothing_compared_has_no_agreement() -> None:
    status = shadow_status(None, release="v2", revision_id=None, now=0.0)
    assert status == {
        "release": "v2",
        "window": "300s",
        "sent": 0,
        "dropped": 0,
        "errors": 0,
        "agree": 0,
        "disagree": 0,
        "incomparable": 0,
    }


@pytest.mark.anyio
async def test_the_controller_writes_status_shadow(home: Home) -> None:
    store, engine, sink, clock = SqliteStore.in_memory(), FakeEngine(), MemorySink(), Clock()
    metrics = ShadowMetrics()
    install_builtin_runtimes(store)
    controllers = Controllers(
        store=store,
        engine=engine,
        config=ControllerConfig(home=home, domain="example.test", drain_seconds=0.0),
        sinks=[sink],
        clock=clock,
        kinds=with_shadows(KINDS, metrics),
    )
    await controllers.start()
    world = World(store=store, engine=engine, controllers=controllers, sink=sink, home=home)
    try:
        svc = mlservice()
        svc["spec"]["releases"].append(
            {
                "name": "v2",
                "predictor": {
                    "model": {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://models/i2/"}
                },
            }
        )
        svc["spec"]["shadow"] = {"release": "v2", "percent": 50}
        world.apply(svc)
        await world.settle()
        for revision in ("iris-predict-v1-00001", "iris-predict-v2-00001"):
            world.mark_ready(revision)
        await world.settle()
        now = clock().timestamp()
        metrics.observe(report(now - 20, sent=4, agree=3, disagree=1, seconds=0.04))
        clock.advance(TICK)
        world.controllers.queue.add(Key("tensorstack.dev", "MLService", "ns", "iris"))
        await world.settle()
        shadow = world.status()["shadow"]
        assert shadow["release"] == "v2"
        assert shadow["revision"] == "iris-predict-v2-00001"
        assert (shadow["sent"], shadow["agree"], shadow["agreement"]) == (4, 3, 0.75)
        del svc["spec"]["shadow"]
        world.apply(svc)
        await world.settle()
        assert "shadow" not in world.status()
    finally:
        await controllers.close()
        await engine.close()
        store.close()
