"""The public `mlservice.Model` API: defaults, KServe-style subclasses, exported names."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import mlservice
from mlservice import Model
from mlservice.errors import InferenceError, InvalidInput, MLServiceError, NotImplementedByModel
from mlservice.server.formats.base import BuildOptions
from mlservice.server.formats.python import FORMAT as PYTHON
from mlservice.server.forward import PredictorConfig


def test_public_names_are_exported_sorted() -> None:
    assert mlservice.__all__ == sorted(mlservice.__all__)
    assert "Model" in mlservice.__all__
    assert mlservice.Model is Model


def test_defaults_pass_through_and_predict_is_not_implemented() -> None:
    model = Model("m")
    assert model.ready is False
    assert model.load() is True
    assert model.ready is True
    payload = {"instances": [1]}
    assert model.preprocess(payload, {}) is payload
    assert model.postprocess(payload, {}) is payload
    with pytest.raises(NotImplementedByModel, match=r"Model m does not implement predict\."):
        asyncio.run(model.predict(payload, {}))
    with pytest.raises(NotImplementedByModel, match=r"Model m does not implement explain\."):
        asyncio.run(model.explain(payload, {}))
    assert model.metadata().inputs == ()


KSERVE_STYLE = """
from mlservice import Model


class ImageTransformer(Model):
    def __init__(self, name: str, predictor_host: str, protocol: str):
        super().__init__(name)
        self.predictor_host = predictor_host
        self.protocol = protocol
        self.ready = True
"""

SELF_LOADING = """
from mlservice import Model


class AlexNet(Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.loads = 0
        self.load()

    def load(self):
        self.loads += 1
        self.ready = True

    def predict(self, payload, headers=None):
        return {"predictions": payload["instances"]}
"""


def build(tmp_path: Path, source: str, options: BuildOptions) -> Model:
    path = tmp_path / "model.py"
    path.write_text(source)
    return PYTHON.build(path, options)


def test_kserve_transformer_constructor_gets_the_predictor_settings(tmp_path: Path) -> None:
    predictor = PredictorConfig("127.0.0.1:9000", "v2", "m-predictor.default.localhost")
    model = build(tmp_path, KSERVE_STYLE, BuildOptions("served", predictor))
    assert model.name == "served"
    assert model.predictor_host == "127.0.0.1:9000"
    assert model.protocol == "v2"  # type: ignore[attr-defined]
    assert model.predictor_host_header == "m-predictor.default.localhost"
    assert model.predictor_protocol == "v2"


def test_a_model_that_loads_itself_is_ready_and_loaded_once(tmp_path: Path) -> None:
    from mlservice.server.dataplane import DataPlane

    model = build(tmp_path, SELF_LOADING, BuildOptions("alexnet"))

    async def scenario() -> int:
        dataplane = DataPlane()
        dataplane.register(model)
        try:
            assert await dataplane.load("alexnet")
            return await dataplane.infer("alexnet", {"instances": [3]}, {})  # type: ignore[no-any-return]
        finally:
            await dataplane.stop()

    assert asyncio.run(scenario()) == {"predictions": [3]}
    assert model.loads == 1  # type: ignore[attr-defined]


class Strict(Model):
    """Refuses rows that are not numbers (its verdict on the input); fails on a negative one."""

    def predict(self, payload: Any, headers: Any = None) -> Any:
        rows = payload["instances"]
        if not all(isinstance(row, int | float) for row in rows):
            raise InvalidInput("instances must be numbers.")
        return {"predictions": [1 / (1 if row >= 0 else 0) for row in rows]}


@pytest.mark.parametrize(
    ("rows", "error", "status", "message"),
    [
        (["a"], InvalidInput, 400, "instances must be numbers."),
        ([-1], InferenceError, 500, "Model strict failed: ZeroDivisionError: division by zero"),
    ],
)
def test_a_models_input_verdict_is_400_and_its_bugs_are_500(
    rows: list[Any], error: type[MLServiceError], status: int, message: str
) -> None:
    """F6 for model.py: InvalidInput from predict reaches the caller as a 400 in the model's
    words; any other exception is the model's 500 with its type and message, nothing more."""
    from mlservice.server.dataplane import DataPlane

    async def scenario() -> None:
        dataplane = DataPlane()
        model = Strict("strict")
        dataplane.register(model)
        try:
            await dataplane.load("strict")
            await dataplane.infer("strict", {"instances": rows}, {})
        finally:
            await dataplane.stop()

    with pytest.raises(error) as caught:
        asyncio.run(scenario())
    assert (caught.value.status_code, caught.value.message) == (status, message)


def test_sdk_clients_are_exported_lazily() -> None:
    from mlservice.client import AsyncClient, Client

    assert mlservice.Client is Client
    assert mlservice.AsyncClient is AsyncClient
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = mlservice.Nope  # type: ignore[attr-defined]
