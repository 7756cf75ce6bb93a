"""XGBoost boosters (`*.bst`, `*.ubj`, or a `*.json` that holds an XGBoost model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlservice.model import Model
from mlservice.server.formats.base import BuildOptions, Format
from mlservice.server.formats.booster import BoosterModel
from mlservice.server.types import NDArray

# XGBoost writes "learner" as the first key of its JSON models; a peek tells them apart from
# any other JSON a model folder may carry (a config, a tokenizer).
_JSON_MARKER = b'"learner"'


class XGBoostModel(BoosterModel):
    platform = "xgboost"
    datatype = "FP32"

    def _load_booster(self) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(self.path))
        return booster

    def _width(self) -> int:
        width: int = self._booster.num_features()
        return width

    def _predict(self, x: NDArray) -> NDArray:
        import xgboost

        result: NDArray = self._booster.predict(xgboost.DMatrix(x))
        return result


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
