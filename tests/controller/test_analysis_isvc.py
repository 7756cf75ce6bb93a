"""The canary analysis inside the InferenceService controller: `canaryTrafficPercent` steered
from annotations, on a fake engine and a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mlservice.controller.analysis import ReleaseWindow
from mlservice.home import Home
from mlservice.store import Key
from tests.controller import analysis_helpers
from tests.controller.controller_helpers import Manifest

pytestmark = pytest.mark.anyio
KIND = "InferenceService"
KEY = Key("serving.kserve.io", KIND, "ns", "iris")
OLD, NEW = "ns/iris-predictor-00001", "ns/iris-predictor-00002"
HOST = "iris-predictor.ns.example.test"


class Analysed(analysis_helpers.Analysed):
    key = KEY

    def split(self) -> dict[str, int]:
        assert self.sink.last is not None
        return {b.revision: b.percent for b in self.sink.last.routes[HOST].backends}

    def record(self) -> dict[str, Any]:
        found: dict[str, Any] = self.status("iris", KIND)["canaryAnalysis"]
        return found

    def analysis(self) -> dict[str, Any]:
        return dict(self.condition("iris", "CanaryAnalysis", kind=KIND))


@pytest.fixture
async def world(home: Home) -> AsyncIterator[Analysed]:
    async with analysis_helpers.analysed_world(home, Analysed) as found:
        yield found


def isvc(uri: str, **annotations: str) -> Manifest:
    prefixed = {
        f"serving.mlservice.dev/analysis-{k.replace('_', '-')}": v for k, v in annotations.items()
    }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": KIND,
        "metadata": {"name": "iris", "namespace": "ns", "annotations": prefixed},
        "spec": {"predictor": {"sklearn": {"storageUri": uri}}},
    }


async def canary(world: Analysed, **annotations: str) -> Manifest:
    """iris-predictor-00001 rolled out, then a new model (00002) ready beside it."""
    world.apply(isvc("pvc://models/iris", steps="10,50,100", interval="30s", **annotations))
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    assert world.split() == {OLD: 100}
    assert "canaryAnalysis" not in world.status("iris", KIND)  # nothing to judge yet
    changed = isvc("pvc://models/iris2", steps="10,50,100", interval="30s", **annotations)
    world.apply(changed)
    await world.settle()
    assert world.split() == {OLD: 100}  # held while the new revision starts
    world.mark_ready("iris-predictor-00002")
    await world.settle()
    return changed


async def test_a_healthy_canary_is_stepped_up_and_promoted(world: Analysed) -> None:
    changed = await canary(world, min_requests="50")
    assert world.split() == {OLD: 90, NEW: 10}
    traffic = world.status("iris", KIND)["components"]["predictor"]["traffic"]
    assert [(t["revisionName"], t["percent"]) for t in traffic] == [
        ("iris-predictor-00002", 10),
        ("iris-predictor-00001", 90),
    ]
    world.metrics.windows = {
        OLD: ReleaseWindow(requests=900, errors=0, p99=0.02),
        NEW: ReleaseWindow(requests=100, errors=0, p99=0.021),
    }
    await world.look(29)
    assert world.split() == {OLD: 90, NEW: 10}
    await world.look(1)
    assert world.split() == {OLD: 50, NEW: 50}
    record = world.record()
    assert (record["release"], record["revision"], record["phase"], record["percent"]) == (
        "predictor",
        "iris-predictor-00002",
        "Progressing",
        50,
    )
    world.apply(changed)  # GitOps re-applies the same file: progress stays
    await world.settle()
    assert world.split() == {OLD: 50, NEW: 50}
    await world.look(30)  # the step at 100 % promotes: KServe's 100 stops the previous one
    await world.settle()
    assert world.split() == {NEW: 100}
    assert world.stopped("iris-predictor-00001")
    status = world.status("iris", KIND)
    assert status["canaryAnalysis"]["phase"] == "Promoted"
    assert status["components"]["predictor"]["latestRolledoutRevision"] == "iris-predictor-00002"
    assert world.analysis()["status"] == "True"
    assert world.analysis()["reason"] == "CanaryPromoted"
    assert world.analysis()["message"].startswith("Promoted: 50 % -> 100 %: 100 canary requests")
    assert [r for r, _ in world.events() if r.startswith("Canary")] == [
        "CanaryAdvanced",
        "CanaryPromoted",
    ]
    assert "canaryTrafficPercent" not in world.get(KIND, "iris")["spec"]["predictor"]
    await world.look(300)  # promoted: it stays so
    assert world.split() == {NEW: 100}
    assert world.record()["phase"] == "Promoted"


async def test_a_failing_canary_is_rolled_back_with_a_condition_and_an_event(
    world: Analysed,
) -> None:
    await canary(world, min_requests="100")
    world.metrics.windows = {
        OLD: ReleaseWindow(requests=900, errors=0, p99=0.02),
        NEW: ReleaseWindow(requests=120, errors=24, p99=0.02),
    }
    await world.look(5)  # before the interval ends: enough requests to judge already
    assert world.split() == {OLD: 100}
    assert not world.stopped("iris-predictor-00001")
    condition = world.analysis()
    assert condition["status"] == "False"
    assert condition["reason"] == "CanaryRolledBack"
    assert "24 of 120" in condition["message"]
    assert "(default: 0 of 900)" in condition["message"]
    _, message = next(e for e in world.events() if e[0] == "CanaryRolledBack")
    assert message == condition["message"]
    status = world.status("iris", KIND)
    assert (status["canaryAnalysis"]["phase"], status["canaryAnalysis"]["percent"]) == (
        "RolledBack",
        0,
    )
    predictor = status["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00001"
    assert [(t["revisionName"], t["percent"]) for t in predictor["traffic"]] == [
        ("iris-predictor-00002", 0),
        ("iris-predictor-00001", 100),
    ]
    world.metrics.windows[NEW] = ReleaseWindow(requests=500, errors=0, p99=0.02)
    await world.look(300)  # a rolled-back canary stays at 0 until it changes
    assert world.split() == {OLD: 100}
    assert world.analysis()["message"] == message


async def test_too_few_requests_hold_the_first_step(world: Analysed) -> None:
    await canary(world, min_requests="100")
    world.metrics.windows = {NEW: ReleaseWindow(requests=99, errors=0, p99=0.02)}
    await world.look(600)
    assert world.split() == {OLD: 90, NEW: 10}
    assert world.analysis()["reason"] == "TooFewRequests"


async def test_invalid_annotations_leave_spec_in_charge_with_a_condition(world: Analysed) -> None:
    manifest = isvc("pvc://models/iris", steps="10,fifty")
    world.apply(manifest)
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    condition = world.analysis()
    assert (condition["status"], condition["reason"]) == ("False", "InvalidAnalysis")
    assert "analysis-steps" in condition["message"]
    assert world.split() == {OLD: 100}
