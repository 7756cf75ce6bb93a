"""A model whose load() reports failure: the server stays up but never becomes ready."""

from __future__ import annotations

from mlservice import Model


class NeverReady(Model):
    def load(self) -> bool:
        return False

    def predict(self, payload: object, headers: object = None) -> object:
        return {"predictions": []}
