"""A model that takes a few seconds to load: requests meanwhile wait in the activator."""

from __future__ import annotations

import os
import time
from typing import Any

from mlservice import Model


class Slow(Model):
    def load(self) -> bool:
        time.sleep(float(os.environ.get("SLOW_LOAD_SECONDS", "3")))
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None) -> Any:
        return {"predictions": ["slow"]}
