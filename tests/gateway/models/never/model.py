"""A model that never becomes ready: its server runs, its readiness probe never passes."""

from __future__ import annotations

from typing import Any

from mlservice import Model


class Never(Model):
    def load(self) -> bool:
        return False

    def predict(self, payload: Any, headers: Any = None) -> Any:
        return {"predictions": []}
