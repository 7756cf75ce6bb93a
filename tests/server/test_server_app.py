"""The REST app in-process (httpx ASGI transport): model API shapes and edge cases."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import numpy as np

from mlservice import Model
from mlservice.server.dataplane import BatchSettings, DataPlane
from mlservice.server.rest.app import build_app
from mlservice.server.types import InferRequest, InferResponse, ResponseOutput

V2_BODY = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1, 2]}]}


@contextlib.asynccontextmanager
async def serving(
    model: Model, batching: BatchSettings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    dataplane = DataPlane(batching=batching)
    dataplane.register(model)
    app = build_app(dataplane)
    await dataplane.load(model.name)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mls") as client:
            yield client
    finally:
        await dataplane.stop()


def run(model: Model, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with serving(model) as client:
            await scenario(client)

    asyncio.run(main())


class AsyncDoubler(Model):
    """Async predict on the event loop; a sync preprocess on the inference thread."""

    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        return np.asarray(
            payload["instances"] if isinstance(payload, dict) else payload.inputs[0].data
        )

    async def predict(self, payload: Any, headers: Any = None) -> Any:
        await asyncio.sleep(0)
        return payload * 2


def test_async_predict_and_array_results_in_both_protocols() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        v1 = await client.post("/v1/models/d:predict", json={"instances": [1, 2.5]})
        assert v1.json() == {"predictions": [2.0, 5.0]}
        v2 = await client.post("/v2/models/d/infer", json=V2_BODY)
        assert v2.json()["outputs"] == [
            {"name": "output-0", "datatype": "FP32", "shape": [2], "data": [2.0, 4.0]}
        ]

    run(AsyncDoubler("d"), scenario)


class Versioned(Model):
    def load(self) -> bool:
        self.version = "2"
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None) -> Any:
        return InferResponse([ResponseOutput("y", np.array([1], dtype=np.int8))])


def test_versions_must_match_when_the_model_declares_one() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        ok = await client.post("/v2/models/v/versions/2/infer", json=V2_BODY)
        assert ok.json()["outputs"][0]["datatype"] == "INT8"
        missing = await client.post("/v2/models/v/versions/3/infer", json=V2_BODY)
        assert (missing.status_code, missing.json()) == (
            404,
            {"error": "Model v has no version 3."},
        )
        meta = await client.get("/v2/models/v")
        assert meta.json()["versions"] == ["2"]
        # A V1 caller of a model answering in V2 gets the V2 document.
        v1 = await client.post("/v1/models/v:predict", json={"instances": [1]})
        assert v1.json()["outputs"][0]["name"] == "y"

    run(Versioned("v"), scenario)


class RawSize(Model):
    def predict(self, payload: Any, headers: Any = None) -> Any:
        return {"size": len(payload), "type": headers["content-type"]}


def test_raw_v2_bodies_reach_custom_models_and_wrong_methods_are_405() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        raw = await client.post(
            "/v2/models/r/infer", content=b"\x00" * 10, headers={"content-type": "audio/wav"}
        )
        assert raw.json() == {"size": 10, "type": "audio/wav"}
        wrong = await client.delete("/v2/models/r/infer")
        assert (wrong.status_code, wrong.json()) == (
            405,
            {"error": "Method DELETE is not allowed on /v2/models/r/infer."},
        )

    run(RawSize("r"), scenario)


def test_a_transformer_whose_predictor_is_down_answers_503() -> None:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening: refused

        async def scenario(client: httpx.AsyncClient) -> None:
            answer = await client.post("/v1/models/t:predict", json={"instances": [1]})
            assert answer.status_code == 503
            assert answer.json()["error"].startswith(
                f"Predictor {dead} is unreachable: ConnectError"
            )

        run(Model("t", predictor_host=dead), scenario)


def test_a_model_without_predict_answers_501() -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        answer = await client.post("/v2/models/plain/infer", json=V2_BODY)
        assert (answer.status_code, answer.json()) == (
            501,
            {"error": "Model plain does not implement predict."},
        )

    run(Model("plain"), scenario)


class Counting(Model):
    """Its first predict waits for `gate`: an idle model runs a request at once, so the
    others gather for the next call only while that one runs."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = threading.Event()

    def predict(self, payload: Any, headers: Any = None) -> Any:
        assert isinstance(payload, InferRequest)
        self.gate.wait(10)
        return InferResponse([ResponseOutput("n", np.full(payload.inputs[0].shape[0], 1))])


def test_batching_through_the_app_observes_batch_sizes() -> None:
    model = Counting("c")

    async def main() -> None:
        async with serving(model, BatchSettings(max_size=64, max_delay_seconds=0.05)) as client:
            sent = asyncio.gather(
                *(client.post("/v2/models/c/infer", json=V2_BODY) for _ in range(6))
            )
            await asyncio.sleep(0.2)  # the first call holds the model; the rest are waiting
            model.gate.set()
            answers = await asyncio.wait_for(sent, 10)
            assert all(a.json()["outputs"][0]["data"] == [1, 1] for a in answers)
            metrics = (await client.get("/metrics")).text
            assert 'mls_batch_size_sum{model="c"} 12.0' in metrics
            # The first request alone, the five that arrived while it ran in one call.
            assert 'mls_batch_size_count{model="c"} 2.0' in metrics

    asyncio.run(main())
