"""XGBoost boosters (`*.bst`, `*.ubj`, or a `*.json` that holds an XGBoost model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlservice.model import Model
from mlservice.server.formats.base import (
    BuildOptions,
    Format,
    requested_names,
    respond,
    tabular,
    unknown_output,
)
from mlservice.server.types import ModelMetadata, TensorSpec

# XGBoost writes "learner" as the first key of its JSON models; a peek tells them apart from
# any other JSON a model folder may carry (a config, a tokenizer).
_JSON_MARKER = b'"learner"'


class XGBoostModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._booster: Any = None

    def load(self) -> bool:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(self.path))
        self._booster = booster
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            inputs=(TensorSpec("input-0", "FP32", (-1, self._booster.num_features())),),
            outputs=(TensorSpec("predict", "FP32", (-1,)),),
            platform="xgboost",
        )

    def predict(self, payload: Any, headers: Any = None) -> Any:
        import xgboost

        for name in requested_names(payload) or []:
            if name != "predict":
                raise unknown_output(name, model=self.name, known=["predict"])
        x = tabular(payload, model=self.name, width=self._booster.num_features(), numbers=True)
        result = self._booster.predict(xgboost.DMatrix(x))
        return respond(payload, {"predict": result}, model=self.name)


def _claims(path: Path) -> bool:
    if path.suffix in (".bst", ".ubj"):
        return True
    if path.suffix != ".json":
        return False
    with path.open("rb") as handle:
        return _JSON_MARKER in handle.read(4096)


def _build(path: Path, options: BuildOptions) -> Model:
    return XGBoostModel(options.name, path)


FORMAT = Format(
    name="xgboost", patterns="*.bst, *.ubj, XGBoost *.json", claims=_claims, build=_build
)
