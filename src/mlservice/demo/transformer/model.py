"""The demo's transformer: a digit image in, its label and probability out.

`mls serve` runs this file with `--format python`; `mls up` gives it `PREDICTOR_HOST`, so
`super().predict` forwards to the `digits` predictor (the v1/v2 split) through the gateway.
It accepts a PNG (`curl -T 3.png`), a V1 body with 8x8 arrays (`{"instances": [...]}`, or the
bare array) or a V2 tensor of shape [N, 8, 8]; it asks the predictor for `predict_proba` and
answers in the caller's protocol:

    V1: {"predictions": [{"label": 3, "probability": 0.98}]}
    V2: outputs "label" (INT64) and "probability" (FP64), one value per image
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from mlservice import Model
from mlservice.demo.digits import rows_of
from mlservice.server.types import (
    InferRequest,
    InferResponse,
    RequestedOutput,
    RequestInput,
    ResponseOutput,
)

PROBA = "predict_proba"


class DigitsTransformer(Model):
    async def predict(self, payload: Any, headers: Any = None) -> Any:
        # One async method rather than preprocess/postprocess: the answer's shape depends on
        # the protocol the request came in, which only the original payload tells.
        rows = await asyncio.to_thread(rows_of, payload)  # a PNG decode is CPU work
        request = InferRequest(
            inputs=[RequestInput("input-0", "FP64", list(rows.shape), rows)],
            outputs=[RequestedOutput(PROBA)],
            model_name=self.name,
        )
        answer = await super().predict(request, headers)
        output = answer.output(PROBA) if isinstance(answer, InferResponse) else None
        if output is None:
            raise ValueError(f"the predictor answered without {PROBA}: {answer!r}")
        proba = np.asarray(output.data, dtype=np.float64).reshape(len(rows), -1)
        labels, best = proba.argmax(axis=1), proba.max(axis=1)
        if isinstance(payload, InferRequest):
            outputs = [ResponseOutput("label", labels), ResponseOutput("probability", best)]
            return InferResponse(outputs=outputs, model_name=self.name, id=payload.id)
        found = [
            {"label": int(label), "probability": round(float(p), 4)}
            for label, p in zip(labels, best, strict=True)
        ]
        return {"predictions": found}
