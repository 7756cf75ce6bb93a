"""scikit-learn options in-process: `PREDICT_PROBA` for V1, output names for V2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mlservice.errors import InvalidInput
from mlservice.server.formats.sklearn import SKLearnModel
from mlservice.server.types import InferRequest, RequestedOutput, RequestInput


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    x, y = load_iris(return_X_y=True)
    estimator = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path_factory.mktemp("sk") / "model.joblib"
    joblib.dump(estimator, path)
    return estimator, path


def loaded(path: Path) -> SKLearnModel:
    model = SKLearnModel("iris", path)
    model.load()
    return model


def test_predict_proba_env_switches_v1_to_probabilities(
    fitted: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    estimator, path = fitted
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    assert loaded(path).predict({"instances": rows})["predictions"].tolist() == [0, 2]
    monkeypatch.setenv("PREDICT_PROBA", "true")
    proba = loaded(path).predict({"instances": rows})["predictions"]
    np.testing.assert_array_equal(proba, estimator.predict_proba(np.asarray(rows)))


def test_v2_outputs_pick_methods_and_unknown_ones_are_refused(fitted: tuple[Any, Path]) -> None:
    _, path = fitted
    model = loaded(path)
    data = np.array([[5.1, 3.5, 1.4, 0.2]])
    request = InferRequest(
        [RequestInput("x", "FP64", [1, 4], data)], outputs=[RequestedOutput("predict_proba")]
    )
    response = model.predict(request)
    assert [o.name for o in response.outputs] == ["predict_proba"]
    request.outputs = [RequestedOutput("transform")]
    with pytest.raises(InvalidInput, match=r"output 'transform' is not produced by model iris"):
        model.predict(request)


def test_single_column_inputs_are_stacked_side_by_side(fitted: tuple[Any, Path]) -> None:
    estimator, path = fitted
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    columns = [RequestInput(f"f{i}", "FP64", [2], rows[:, i].copy()) for i in range(4)]
    response = loaded(path).predict(InferRequest(columns))
    np.testing.assert_array_equal(response.outputs[0].data, estimator.predict(rows))
