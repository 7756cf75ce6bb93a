"""A TorchServe archive's model in the data plane, in process: statuses a handler chooses,
`responseTimeout`, and the extra name a single archive answers to."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlservice.errors import MLServiceError
from mlservice.server.dataplane import DataPlane
from mlservice.server.formats import BuildOptions, build_models, detect
from tests.server.torchserve import archives

HANDLER = """
import time


class PredictionException(Exception):  # TorchServe's, by name and attributes
    def __init__(self, message, error_code=500):
        super().__init__(message)
        self.message = message
        self.error_code = error_code


def handle(data, context):
    if data is None:
        return None
    row = data[0].get("data")
    if row == "slow":
        time.sleep(1.5)
    if row == "refuse":
        raise PredictionException("not this one", 422)
    return [{"ok": r.get("data")} for r in data]
"""


def serve(store: Path, name: str = "svc") -> tuple[DataPlane, list[Any]]:
    dataplane = DataPlane()
    models = build_models(detect(store), BuildOptions(name))
    for model in models:
        dataplane.register(model)
    return dataplane, models


def ask(dataplane: DataPlane, model: str, data: str) -> Any:
    async def main() -> Any:
        try:
            for name in dataplane.model_names:
                await dataplane.load(name)
            return await dataplane.infer(model, {"instances": [{"data": data}]}, {})
        finally:
            await dataplane.stop()

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def process_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loading puts the archive's folder on sys.path (as TorchServe does) and may install our
    `ts` import hook: both are undone after the test, `ts` modules included."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    saved = {name: module for name, module in sys.modules.items() if _is_ts(name)}
    yield
    for name in [name for name in sys.modules if _is_ts(name)]:
        del sys.modules[name]
    sys.modules.update(saved)


def _is_ts(name: str) -> bool:
    return name == "ts" or name.startswith("ts.")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    files = {"MAR-INF/MANIFEST.json": archives.manifest("m", "h.py"), "h.py": HANDLER}
    archives.write_mar(tmp_path / "model-store" / "m.mar", files)
    snapshot = {"models": {"quick": {"1.0": {"marName": "m.mar", "responseTimeout": 1}}}}
    (tmp_path / "config.properties").write_text(f"model_snapshot={json.dumps(snapshot)}\n")
    return tmp_path


def test_a_single_archive_answers_to_the_served_name_too(store: Path) -> None:
    dataplane, _ = serve(store, name="svc")
    assert dataplane.model_names == ["quick"]
    assert ask(dataplane, "svc", "x") == {"predictions": [{"ok": "x"}]}


def test_prediction_exception_answers_its_status(store: Path) -> None:
    dataplane, _ = serve(store)
    with pytest.raises(MLServiceError, match="Model quick: not this one") as caught:
        ask(dataplane, "quick", "refuse")
    assert caught.value.status_code == 422


def test_response_timeout_is_503(store: Path) -> None:
    dataplane, _ = serve(store)
    with pytest.raises(MLServiceError, match="did not answer within 1 seconds") as caught:
        ask(dataplane, "quick", "slow")
    assert caught.value.status_code == 503
