"""A transformer: a PNG of a digit in, its name out, a digits classifier in between.

`preprocess` decodes the PNG into the 8x8, 0-16 grey levels sklearn's digits data uses and
sends it on as a V2 tensor; `postprocess` maps the predicted class id to a word.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from mlservice import Model
from mlservice.server.types import InferRequest, InferResponse, RequestInput

LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class DigitNames(Model):
    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        image = Image.open(io.BytesIO(payload)).convert("L").resize((8, 8))
        pixels = np.asarray(image, dtype=np.float64).reshape(1, 64) / 255.0 * 16.0
        tensor = RequestInput(name="input-0", datatype="FP64", shape=[1, 64], data=pixels)
        return InferRequest(inputs=[tensor], model_name=self.name)

    def postprocess(self, result: Any, headers: Any = None) -> Any:
        assert isinstance(result, InferResponse)
        ids = np.asarray(result.outputs[0].data).ravel()
        return {"predictions": [LABELS[int(i)] for i in ids]}
