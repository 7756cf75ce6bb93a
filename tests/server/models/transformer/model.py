"""A transformer in KServe's style: preprocess and postprocess; predict forwards (the default)."""

from __future__ import annotations

from typing import Any

from mlservice import Model
from mlservice.server.types import InferRequest, InferResponse


class Doubler(Model):
    def __init__(self, name: str, predictor_host: str, protocol: str | None = None) -> None:
        super().__init__(name)
        self.predictor_host = predictor_host
        self.predictor_protocol = protocol
        self.ready = True

    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        if isinstance(payload, InferRequest):
            for tensor in payload.inputs:
                tensor.data = tensor.data * 2
            return payload
        payload["instances"] = [[2 * v for v in row] for row in payload["instances"]]
        return payload

    async def postprocess(self, result: Any, headers: Any = None) -> Any:
        if isinstance(result, InferResponse):
            result.parameters["transformed"] = True
            return result
        result["transformed"] = True
        return result
