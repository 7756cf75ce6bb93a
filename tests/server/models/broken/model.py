"""A model whose load() raises: `mls serve` must exit non-zero and say why."""

from __future__ import annotations

from mlservice import Model


class Broken(Model):
    def load(self) -> bool:
        raise OSError("weights.bin is missing")
