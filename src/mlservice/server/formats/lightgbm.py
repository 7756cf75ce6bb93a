"""LightGBM boosters saved as text (`*.txt` starting with LightGBM's `tree` header)."""

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


class LightGBMModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._booster: Any = None

    def load(self) -> bool:
        import lightgbm

        self._booster = lightgbm.Booster(model_file=str(self.path))
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            inputs=(TensorSpec("input-0", "FP64", (-1, self._booster.num_feature())),),
            outputs=(TensorSpec("predict", "FP64", (-1,)),),
            platform="lightgbm",
        )

    def predict(self, payload: Any, headers: Any = None) -> Any:
        for name in requested_names(payload) or []:
            if name != "predict":
                raise unknown_output(name, model=self.name, known=["predict"])
        x = tabular(payload, model=self.name, width=self._booster.num_feature(), numbers=True)
        return respond(payload, {"predict": self._booster.predict(x)}, model=self.name)


def _claims(path: Path) -> bool:
    # requirements.txt and friends share the suffix; LightGBM's text models start with "tree".
    if path.suffix != ".txt":
        return False
    with path.open("rb") as handle:
        return handle.read(5) == b"tree\n"


def _build(path: Path, options: BuildOptions) -> Model:
    return LightGBMModel(options.name, path)


FORMAT = Format(name="lightgbm", patterns="LightGBM *.txt", claims=_claims, build=_build)
