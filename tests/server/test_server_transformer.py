"""Transformer mode: a real `mls serve` with --predictor-host chained to a real predictor."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from mlservice import Model
from mlservice.server.dataplane import DataPlane
from mlservice.server.rest.app import build_app
from mlservice.server.types import InferRequest, InferResponse, RequestInput
from tests.server.server_procs import MODELS, Launcher, Served

pytestmark = pytest.mark.e2e
PREDICTOR_HOST_HEADER = "echo-predictor.default.localhost"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def transformer(launcher: Launcher, echo_server: Served) -> Iterator[httpx.Client]:
    predictor = echo_server.url.removeprefix("http://")
    served = launcher.start(
        MODELS / "transformer",
        "--predictor-host",
        predictor,
        name="echo",
        env={"PREDICTOR_HOST_HEADER": PREDICTOR_HOST_HEADER, "MLS_RELEASE": "transformer"},
    )
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client
    served.stop()


def test_v1_goes_through_preprocess_predictor_and_postprocess(transformer: httpx.Client) -> None:
    answer = transformer.post(
        "/v1/models/echo:predict",
        json={"instances": [[1, 2], [3, 4]], "headers": True},
        headers={"traceparent": TRACEPARENT, "x-request-id": "req-42"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "instances": [[2, 4], [6, 8]],  # doubled by the transformer, echoed by the predictor
        "headers": {
            "host": PREDICTOR_HOST_HEADER,
            "traceparent": TRACEPARENT,
            "x-request-id": "req-42",
            "content-type": "application/json",
        },
        "transformed": True,
    }
    assert answer.headers["x-mls-release"] == "v7"  # the predictor's, not the transformer's


def test_v2_is_forwarded_as_v2(transformer: httpx.Client) -> None:
    body = {
        "id": "t1",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1, 2, 3]}],
    }
    answer = transformer.post("/v2/models/echo/infer", json=body)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["id"] == "t1"
    assert doc["parameters"] == {"transformed": True}
    assert doc["outputs"] == [{"name": "x", "datatype": "FP32", "shape": [3], "data": [2, 4, 6]}]
    assert answer.headers["x-mls-release"] == "v7"


def test_predictor_errors_come_back_with_their_status(transformer: httpx.Client) -> None:
    answer = transformer.post("/v1/models/echo:predict", json={"instances": [[1]], "fail": "no"})
    assert answer.status_code == 500
    assert answer.json()["error"].endswith("answered 500: Model echo failed: ValueError: no")


def test_raw_body_reaches_preprocess_untouched(echo_server: Served) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    answer = httpx.put(
        f"{echo_server.url}/v1/models/echo:predict",
        content=png,
        headers={"content-type": "image/png"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "raw_sha256": hashlib.sha256(png).hexdigest(),
        "raw_size": len(png),
        "content_type": "image/png",
    }


def test_explain_is_forwarded_too(transformer: httpx.Client) -> None:
    answer = transformer.post("/v1/models/echo:explain", json={"instances": [[1, 2]]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "explanations": [{"row": [2, 4], "why": "echo"}],
        "transformed": True,
    }


class V1ToV2(Model):
    """Takes V1 instances, asks a V2 predictor, answers in V1: protocols differ across hops."""

    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        data = np.asarray(payload["instances"], dtype=np.float32)
        return InferRequest([RequestInput("x", "FP32", list(data.shape), data)])

    def postprocess(self, result: Any, headers: Any = None) -> Any:
        assert isinstance(result, InferResponse)
        return {"predictions": result.outputs[0].data.tolist()}


def test_a_transformer_can_call_its_predictor_in_another_protocol(echo_server: Served) -> None:
    async def scenario() -> httpx.Response:
        model = V1ToV2("echo", echo_server.url.removeprefix("http://"), predictor_protocol="v2")
        dataplane = DataPlane()
        dataplane.register(model)
        await dataplane.load("echo")
        transport = httpx.ASGITransport(app=build_app(dataplane))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post("/v1/models/echo:predict", json={"instances": [[1, 2]]})
        finally:
            await dataplane.stop()

    answer = asyncio.run(scenario())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": [[1.0, 2.0]]}
    assert answer.headers["x-mls-release"] == "v7"
