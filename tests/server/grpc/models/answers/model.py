"""A custom model for the gRPC tests: answers in whichever shape the `answer` parameter names.

`params`: the input back as `y`, with output parameters, and response parameters that repeat
the request's and add one of every kind a model might set. `list`: a plain list (the server
names it `output-0`). `v2dict`: a V2 response written as a dict. `dict`: a dict that is no V2
response. `half`: the input as FP16, which has no typed field.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlservice import Model
from mlservice.server.types import InferRequest, InferResponse, ResponseOutput

EXTRA = {"flag": True, "count": -3, "big": 2**64 - 1, "ratio": 0.5, "meta": {"a": [1, 2]}}


class Answers(Model):
    def predict(self, payload: InferRequest, headers: Any = None) -> Any:
        x = payload.inputs[0].data
        answer = payload.parameters.get("answer")
        if answer == "params":
            output = ResponseOutput("y", x, parameters={"unit": "cm", "scale": np.float32(2.5)})
            return InferResponse([output], parameters={**payload.parameters, **EXTRA})
        if answer == "list":
            return x.tolist()
        if answer == "v2dict":
            return {"outputs": [{"name": "z", "datatype": "INT32", "shape": [1], "data": [5]}]}
        if answer == "half":
            return InferResponse([ResponseOutput("h", x.astype(np.float16))])
        return {"not": "tensors"}
