"""Session-wide model files and real `mls serve` processes, shared across the server tests.

Each server starts at most once per session (the machine has two cores); tests that need a
server take its fixture and the process is stopped when the session ends.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server.server_procs import MODELS, Launcher, Served


@pytest.fixture(scope="session")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path_factory.mktemp("serve-logs"))
    yield launcher
    launcher.close()


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x, y


@pytest.fixture(scope="session")
def rows(iris: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A few rows from each class, the inputs every format test predicts on."""
    return iris[0][[0, 1, 60, 75, 120, 149]]


@pytest.fixture(scope="session")
def sklearn_model(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500).fit(*iris)


def _model_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp(name)


@pytest.fixture(scope="session")
def sklearn_server(
    launcher: Launcher, sklearn_model: Any, tmp_path_factory: pytest.TempPathFactory
) -> Served:
    import joblib

    folder = _model_dir(tmp_path_factory, "sklearn")
    joblib.dump(sklearn_model, folder / "model.joblib")
    (folder / "requirements.txt").write_text("scikit-learn\n")  # not a LightGBM model
    return launcher.start(folder, name="iris")


@pytest.fixture(scope="session")
def xgboost_booster(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    import xgboost

    data = xgboost.DMatrix(iris[0], label=iris[1])
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1}
    return xgboost.train(params, data, num_boost_round=5)


@pytest.fixture(scope="module")  # only the format tests use it: stop it after them
def xgboost_server(
    launcher: Launcher, xgboost_booster: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = _model_dir(tmp_path_factory, "xgboost")
    xgboost_booster.save_model(str(folder / "model.json"))
    (folder / "config.json").write_text('{"labels": ["a", "b", "c"]}')  # not an XGBoost model
    served = launcher.start(folder, name="xgb")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def lightgbm_booster(iris: tuple[np.ndarray, np.ndarray]) -> Any:
    import lightgbm

    data = lightgbm.Dataset(iris[0], label=iris[1])
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}
    return lightgbm.train(params, data, num_boost_round=5)


@pytest.fixture(scope="module")  # only the format tests use it: stop it after them
def lightgbm_server(
    launcher: Launcher, lightgbm_booster: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = _model_dir(tmp_path_factory, "lightgbm")
    lightgbm_booster.save_model(str(folder / "model.txt"))
    served = launcher.start(folder, name="lgbm")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def onnx_path(sklearn_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skl2onnx import to_onnx

    folder = _model_dir(tmp_path_factory, "onnx")
    sample = np.zeros((1, 4), dtype=np.float32)
    onx = to_onnx(sklearn_model, sample, options={"zipmap": False}, target_opset=17)
    path = folder / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    return path


@pytest.fixture(scope="module")  # only the format tests use it: stop it after them
def onnx_server(launcher: Launcher, onnx_path: Path) -> Iterator[Served]:
    served = launcher.start(onnx_path.parent, name="iris-onnx")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def torch_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream
        scripted = torch.jit.trace(net.eval(), torch.zeros(1, 4))
    path = _model_dir(tmp_path_factory, "torch") / "model.pt"
    scripted.save(str(path))
    return path


@pytest.fixture(scope="module")  # only the format tests use it: stop it after them
def torch_server(launcher: Launcher, torch_path: Path) -> Iterator[Served]:
    served = launcher.start(torch_path.parent, name="net")
    yield served
    served.stop()


@pytest.fixture(scope="session")
def echo_server(launcher: Launcher) -> Served:
    # MLS_RELEASE as the local engine sets it: the transformer test checks it is relayed.
    env = {"MLS_RELEASE": "v7"}
    return launcher.start(MODELS / "echo", "--max-body-bytes", str(1 << 20), name="echo", env=env)
