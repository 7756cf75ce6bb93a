"""A custom model for the server tests: echoes what it gets, and reports how it was called.

V2: every input comes back as an output of the same name and datatype. Request parameters steer
it: `sleep` (seconds), `fail` (a message to raise), `calls` (add an INT64 output `call`, the
number of the predict call each row went through, to observe batching).
V1: `{"instances": [...]}` comes back as predictions of `{"call": n, "row": instance}`; other
keys ask for `pid` or the `headers` the model saw, `fail` raises a ValueError (a model bug)
and `refuse` an InvalidInput (the model's verdict on its input). Raw bodies are described.
`ECHO_PREDICT_SLEEP` (seconds) slows every predict call, so concurrent requests pile up.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any

import numpy as np

from mlservice import Model
from mlservice.errors import InvalidInput
from mlservice.server.types import InferRequest, InferResponse, ResponseOutput

SEEN_HEADERS = ("host", "traceparent", "x-request-id", "content-type")


class Echo(Model):
    def load(self) -> bool:
        self.calls = 0
        self.lock = threading.Lock()
        self.ready = True
        return True

    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        if isinstance(payload, bytes):
            return {
                "raw_sha256": hashlib.sha256(payload).hexdigest(),
                "raw_size": len(payload),
                "content_type": (headers or {}).get("content-type"),
            }
        return payload

    def predict(self, payload: Any, headers: Any = None) -> Any:
        with self.lock:
            self.calls += 1
            call = self.calls
        time.sleep(float(os.environ.get("ECHO_PREDICT_SLEEP", "0")))
        if isinstance(payload, InferRequest):
            return self._v2(payload, call)
        if "raw_sha256" in payload:
            return payload
        if payload.get("pid"):
            return {"pid": os.getpid()}
        if payload.get("headers"):
            seen = {k: (headers or {}).get(k) for k in SEEN_HEADERS}
            return {"headers": seen, "instances": payload.get("instances")}
        if payload.get("fail"):
            raise ValueError(payload["fail"])
        if payload.get("refuse"):
            raise InvalidInput(payload["refuse"])
        return {"predictions": [{"call": call, "row": row} for row in payload["instances"]]}

    def explain(self, payload: Any, headers: Any = None) -> Any:
        return {"explanations": [{"row": row, "why": "echo"} for row in payload["instances"]]}

    def _v2(self, request: InferRequest, call: int) -> InferResponse:
        params = request.parameters
        if "sleep" in params:
            time.sleep(float(params["sleep"]))
        if "fail" in params:
            raise RuntimeError(str(params["fail"]))
        outputs = [ResponseOutput(t.name, t.data, t.datatype) for t in request.inputs]
        if params.get("calls"):
            rows = request.inputs[0].shape[0]
            outputs.append(ResponseOutput("call", np.full(rows, call, dtype=np.int64)))
        return InferResponse(outputs, model_name=self.name)
