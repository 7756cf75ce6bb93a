"""What the boosted-tree formats (XGBoost, LightGBM) share: one booster file, one tabular
numeric input as wide as the booster's features, one `predict` output."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar

from mlservice.model import Model
from mlservice.server.formats.base import requested_names, respond, tabular, unknown_output
from mlservice.server.types import ModelMetadata, NDArray, TensorSpec


class BoosterModel(Model, abc.ABC):
    """A subclass loads its library's booster and says how to read its width and predict."""

    platform: ClassVar[str]
    """The metadata's `platform`: the format's name."""
    datatype: ClassVar[str]
    """The input's and output's type in the metadata: what the library computes in."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._booster: Any = None

    @abc.abstractmethod
    def _load_booster(self) -> Any:
        """The booster read from `path`."""

    @abc.abstractmethod
    def _width(self) -> int:
        """How many features the booster takes."""

    @abc.abstractmethod
    def _predict(self, x: NDArray) -> NDArray:
        """The booster's predictions for rows `x`."""

    def load(self) -> bool:
        self._booster = self._load_booster()
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            inputs=(TensorSpec("input-0", self.datatype, (-1, self._width())),),
            outputs=(TensorSpec("predict", self.datatype, (-1,)),),
            platform=self.platform,
        )

    def predict(self, payload: Any, headers: Any = None) -> Any:
        for name in requested_names(payload) or []:
            if name != "predict":
                raise unknown_output(name, model=self.name, known=["predict"])
        x = tabular(payload, model=self.name, width=self._width(), numbers=True)
        return respond(payload, {"predict": self._predict(x)}, model=self.name)
