"""LightGBM boosters saved as text (`*.txt` starting with LightGBM's `tree` header)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlservice.model import Model
from mlservice.server.formats.base import BuildOptions, Format
from mlservice.server.formats.booster import BoosterModel
from mlservice.server.types import NDArray


class LightGBMModel(BoosterModel):
    platform = "lightgbm"
    datatype = "FP64"

    def _load_booster(self) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(self.path))

    def _width(self) -> int:
        width: int = self._booster.num_feature()
        return width

    def _predict(self, x: NDArray) -> NDArray:
        result: NDArray = self._booster.predict(x)
        return result


def _claims(path: Path) -> bool:
    # requirements.txt and friends share the suffix; LightGBM's text models start with "tree".
    if path.suffix != ".txt":
        return False
    with path.open("rb") as handle:
        return handle.read(5) == b"tree\n"


def _build(path: Path, options: BuildOptions) -> Model:
    return LightGBMModel(options.name, path)


FORMAT = Format(name="lightgbm", patterns="LightGBM *.txt", claims=_claims, build=_build)
