"""TrainedModel over a FakeEngine: the model's folder in the parent's repository, a load asked
of each ready predictor replica (recorded instead of sent: nothing listens on a fake replica),
status, and the unload and cleanup on delete."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlservice.controller import trainedmodel
from mlservice.store import Key
from tests.controller.controller_helpers import Manifest, World

pytestmark = pytest.mark.anyio
TM = Key("serving.kserve.io", "TrainedModel", "ns", "gamma")


def isvc(name: str = "shop") -> Manifest:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"predictor": {"sklearn": {"storageUri": "pvc://models/"}}},
    }


def trained(parent: str = "shop", uri: str = "pvc://models/iris2") -> Manifest:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "TrainedModel",
        "metadata": {"name": "gamma", "namespace": "ns"},
        "spec": {
            "inferenceService": parent,
            "model": {"storageUri": uri, "framework": "sklearn", "memory": "64Mi"},
        },
    }


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    made: list[tuple[str, str, str]] = []

    async def record(client: Any, address: str, name: str, verb: str) -> None:
        made.append((address, name, verb))

    monkeypatch.setattr(trainedmodel, "_call", record)
    return made


def tm_status(world: World) -> dict[str, Any]:
    found: dict[str, Any] = world.store.get(TM).get("status") or {}
    return found


def ready(world: World) -> dict[str, Any]:
    return next(c for c in tm_status(world)["conditions"] if c["type"] == "Ready")


async def test_a_trainedmodel_waits_for_its_inferenceservice(
    world: World, calls: list[tuple[str, str, str]]
) -> None:
    world.apply(trained(parent="nope"))
    await world.settle()
    assert ready(world)["status"] == "False"
    assert ready(world)["reason"] == "InferenceServiceNotFound"
    assert calls == []


async def test_a_trainedmodel_is_placed_in_the_repository_and_loaded_by_each_replica(
    world: World, calls: list[tuple[str, str, str]]
) -> None:
    world.apply(isvc())
    await world.settle()
    world.mark_ready("shop-predictor-00001")
    await world.settle()
    world.apply(trained())
    await world.settle()
    assert ready(world)["status"] == "True", tm_status(world)
    folder = world.home.volume("models") / "gamma"
    assert (folder / "model.joblib").read_bytes().startswith(b"not really a model")
    settings = json.loads((folder / "model-settings.json").read_text())
    assert settings == {"name": "gamma", "parameters": {"format": "sklearn"}, "memory": "64Mi"}
    (replica,) = await world.engine.replicas()
    assert calls == [(replica.address, "gamma", "load")]
    assert tm_status(world)["url"] == "http://shop.ns.example.test:8080/v1/models/gamma:predict"
    assert ("ModelLoaded", f"Model gamma loaded by replica {replica.address} of shop.") in (
        world.events()
    )

    world.store.delete(TM)
    await world.settle()
    assert calls[-1] == (replica.address, "gamma", "unload")
    assert not folder.exists()
    assert (world.home.volume("models") / "iris2" / "model.joblib").is_file()  # the source


async def test_a_folder_the_repository_already_has_is_never_replaced(
    world: World, calls: list[tuple[str, str, str]]
) -> None:
    (world.home.volume("models") / "gamma").mkdir()
    world.apply(isvc())
    await world.settle()
    world.mark_ready("shop-predictor-00001")
    await world.settle()
    world.apply(trained())
    await world.settle()
    assert ready(world)["reason"] == "LoadFailed"
    assert "exists in pvc://models/ and is not a TrainedModel's" in ready(world)["message"]
    assert calls == []


async def test_a_model_inside_the_repository_itself_is_refused(
    world: World, calls: list[tuple[str, str, str]]
) -> None:
    world.apply(isvc())
    await world.settle()
    world.mark_ready("shop-predictor-00001")
    await world.settle()
    world.apply(trained(uri="pvc://models/"))
    await world.settle()
    assert ready(world)["reason"] == "LoadFailed"
    assert "holds the InferenceService's model folder" in ready(world)["message"]
    assert not (world.home.volume("models") / "gamma").exists()
    assert calls == []
