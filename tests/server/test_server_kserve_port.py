"""A KServe custom model file ported by changing its imports: standalone and under `mls serve`."""

from __future__ import annotations

import sys

import httpx
import pytest

from mlservice.server.formats.base import BuildOptions
from mlservice.server.formats.python import FORMAT as PYTHON
from tests.server.server_procs import MODELS, Launcher

SOURCE = MODELS / "kserve_style" / "model.py"


@pytest.mark.e2e
def test_the_file_runs_on_its_own_with_model_server(launcher: Launcher) -> None:
    served = launcher.spawn([sys.executable, str(SOURCE)], name="kserve", env={"PORT": "0"})
    answer = httpx.post(
        f"{served.url}/v1/models/custom-model:predict", json={"instances": [1, 2]}, timeout=30
    )
    assert answer.json() == {"predictions": [3, 6]}
    served.stop()


def test_mls_serve_imports_it_without_running_its_main_block() -> None:
    model = PYTHON.build(SOURCE, BuildOptions("served-name"))
    assert model.name == "served-name"
    assert model.ready
    assert model.predict({"instances": [2]}) == {"predictions": [6]}  # type: ignore[comparison-overlap]
