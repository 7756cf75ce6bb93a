"""A KServe custom model with only its imports changed (`from kserve import ...` before)."""

from __future__ import annotations

from typing import Any

from mlservice import Model, ModelServer


class AlexNetModel(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.load()

    def load(self) -> bool:
        self.weights = 3
        self.ready = True
        return self.ready

    def predict(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return {"predictions": [row * self.weights for row in payload["instances"]]}


if __name__ == "__main__":
    model = AlexNetModel("custom-model")
    model.load()
    ModelServer().start([model])
