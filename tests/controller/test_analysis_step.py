"""The canary analysis inside the MLService controller, on a fake engine and a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mlservice.controller.analysis import ReleaseWindow
from mlservice.home import Home
from mlservice.store import Key
from tests.controller import analysis_helpers
from tests.controller.controller_helpers import Manifest, mlservice

pytestmark = pytest.mark.anyio
KEY = Key("tensorstack.dev", "MLService", "ns", "iris")
V1, V2 = "ns/iris-predict-v1-00001", "ns/iris-predict-v2-00001"


class Analysed(analysis_helpers.Analysed):
    key = KEY

    def split(self) -> list[tuple[str, int]]:
        assert self.sink.last is not None
        backends = self.sink.last.routes["iris-predictor.ns.example.test"].backends
        return [(b.release, b.percent) for b in backends]


@pytest.fixture
async def world(home: Home) -> AsyncIterator[Analysed]:
    async with analysis_helpers.analysed_world(home, Analysed) as found:
        yield found


def canary_service(**analysis: Any) -> Manifest:
    svc = mlservice(canary="v2", canaryTrafficPercent=70)
    svc["spec"]["releases"].append(
        {
            "name": "v2",
            "predictor": {
                "model": {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://models/iris2/"}
            },
        }
    )
    svc["spec"]["analysis"] = {"steps": [10, 50, 100], "interval": "30s", **analysis}
    return svc


async def started(world: Analysed, svc: Manifest) -> None:
    world.apply(svc)
    await world.settle()
    for revision in ("iris-predict-v1-00001", "iris-predict-v2-00001"):
        world.mark_ready(revision)
    await world.settle()


async def test_a_healthy_canary_is_stepped_up_and_promoted(world: Analysed) -> None:
    svc = canary_service(minRequests=50)
    await started(world, svc)
    # spec's 70 % is not used: the analysis owns the percent, from its first step.
    assert world.split() == [("v1", 90), ("v2", 10)]
    world.metrics.windows = {
        V1: ReleaseWindow(requests=900, errors=0, p99=0.02),
        V2: ReleaseWindow(requests=100, errors=0, p99=0.021),
    }
    await world.look(29)
    assert world.split() == [("v1", 90), ("v2", 10)]
    await world.look(1)
    assert world.split() == [("v1", 50), ("v2", 50)]
    record = world.status()["canaryAnalysis"]
    assert (record["phase"], record["step"], record["percent"]) == ("Progressing", 1, 50)
    world.apply(svc)  # GitOps re-applies the same file: progress stays
    await world.settle()
    assert world.split() == [("v1", 50), ("v2", 50)]
    await world.look(30)
    await world.look(30)
    status = world.status()
    assert status["canaryAnalysis"]["phase"] == "Promoted"
    assert status["defaultRelease"] == "v2"
    assert "canaryRelease" not in status
    assert world.split() == [("v2", 100)]
    assert [r for r, _ in world.events() if r.startswith("Canary")] == [
        "CanaryAdvanced",
        "CanaryAdvanced",
        "CanaryPromoted",
    ]
    assert world.get("MLService", "iris")["spec"]["default"] == "v1"  # spec untouched


async def test_a_failing_canary_is_rolled_back_with_a_condition_and_an_event(
    world: Analysed,
) -> None:
    await started(world, canary_service(minRequests=100))
    world.metrics.windows = {
        V1: ReleaseWindow(requests=900, errors=0, p99=0.02),
        V2: ReleaseWindow(requests=120, errors=24, p99=0.02),
    }
    await world.look(5)  # before the interval ends: enough requests to judge already
    assert world.split() == [("v1", 100)]
    condition = world.condition(type_="CanaryAnalysis")
    assert condition["status"] == "False"
    assert condition["reason"] == "CanaryRolledBack"
    assert "24 of 120" in condition["message"]
    assert "20.0%" in condition["message"]
    _, message = next(e for e in world.events() if e[0] == "CanaryRolledBack")
    assert message == condition["message"]
    status = world.status()
    assert [(r["name"], r["trafficPercent"]) for r in status["releases"]] == [
        ("v1", 100),
        ("v2", 0),
    ]
    world.metrics.windows[V2] = ReleaseWindow(requests=500, errors=0, p99=0.02)
    await world.look(300)  # a rolled-back canary stays at 0 until it changes
    assert world.split() == [("v1", 100)]
    assert world.condition(type_="CanaryAnalysis")["message"] == message


async def test_a_changed_canary_starts_over(world: Analysed) -> None:
    svc = canary_service(minRequests=10)
    await started(world, svc)
    world.metrics.windows = {V2: ReleaseWindow(requests=100, errors=50, p99=0.02)}
    await world.look(1)
    assert world.status()["canaryAnalysis"]["phase"] == "RolledBack"
    svc["spec"]["releases"][1]["predictor"]["model"]["modelUri"] = "pvc://models/iris/"  # new v2
    world.apply(svc)
    await world.settle()
    world.mark_ready("iris-predict-v2-00002")
    await world.settle()
    record = world.status()["canaryAnalysis"]
    assert (record["revision"], record["phase"], record["percent"]) == (
        "iris-predict-v2-00002",
        "Progressing",
        10,
    )


async def test_without_analysis_nothing_changes(world: Analysed) -> None:
    svc = canary_service()
    del svc["spec"]["analysis"]
    await started(world, svc)
    assert world.split() == [("v1", 30), ("v2", 70)]
    assert "canaryAnalysis" not in world.status()
    assert world.metrics.asked == []
