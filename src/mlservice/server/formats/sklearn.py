"""scikit-learn estimators saved with joblib or pickle (`*.joblib`, `*.pkl`, `*.pickle`).

V1 returns `predict()`, or `predict_proba()` when `PREDICT_PROBA=true` as KServe's sklearn
server does; V2 returns the outputs asked for by name (`predict`, `predict_proba`).

The rows are checked against `n_features_in_` first; past that, scikit-learn validates its own
input (strings to a numeric estimator, NaN where refused, no rows) with ValueError or TypeError,
and since the estimator's only variable is the request, those are the caller's 400. Inputs are
not forced numeric here: a pipeline may well take strings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mlservice.errors import InvalidInput
from mlservice.model import Model
from mlservice.server.codecs.datatypes import datatype_of
from mlservice.server.formats.base import (
    BuildOptions,
    Format,
    first_line,
    input_label,
    requested_names,
    respond,
    tabular,
    unknown_output,
)
from mlservice.server.types import ModelMetadata, NDArray, TensorSpec

SUFFIXES = (".joblib", ".pkl", ".pickle")
METHODS = ("predict", "predict_proba")


class SKLearnModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._estimator: Any = None
        proba = os.environ.get("PREDICT_PROBA", "false").lower() == "true"
        self._default = "predict_proba" if proba else "predict"

    def load(self) -> bool:
        import joblib

        self._estimator = joblib.load(self.path)
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        n_features = getattr(self._estimator, "n_features_in_", -1)
        classes = getattr(self._estimator, "classes_", None)
        # A classifier predicts its class labels; a regressor predicts floats.
        label_type = "FP64" if classes is None else datatype_of(np.asarray(classes))
        outputs = [TensorSpec("predict", label_type, (-1,))]
        if classes is not None and hasattr(self._estimator, "predict_proba"):
            outputs.append(TensorSpec("predict_proba", "FP64", (-1, len(classes))))
        return ModelMetadata(
            inputs=(TensorSpec("input-0", "FP64", (-1, n_features)),),
            outputs=tuple(outputs),
            platform="sklearn",
        )

    def predict(self, payload: Any, headers: Any = None) -> Any:
        x = tabular(payload, model=self.name, width=getattr(self._estimator, "n_features_in_", -1))
        names = requested_names(payload) or [self._default]
        label = input_label(payload)
        results = {name: self._call(name, x, label=label) for name in names}
        return respond(payload, results, model=self.name)

    def _call(self, method: str, x: NDArray, *, label: str) -> NDArray:
        if method not in METHODS or not hasattr(self._estimator, method):
            known = [m for m in METHODS if hasattr(self._estimator, m)]
            raise unknown_output(method, model=self.name, known=known)
        try:
            result: NDArray = getattr(self._estimator, method)(x)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                f"Model {self.name} cannot {method} on input {label}: {first_line(exc)}"
            ) from exc
        return result


def _build(path: Path, options: BuildOptions) -> Model:
    return SKLearnModel(options.name, path)


FORMAT = Format(
    name="sklearn",
    patterns="*.joblib, *.pkl, *.pickle",
    claims=lambda path: path.suffix in SUFFIXES,
    build=_build,
)
