"""Adaptive batching on a real server: concurrent requests share predict calls, rows go home."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.server.server_procs import MODELS, Launcher, Served, metric

pytestmark = pytest.mark.e2e
REQUESTS = 32


@pytest.fixture(scope="module")
def batching_server(launcher: Launcher) -> Iterator[Served]:
    args = ("--max-batch-size", "16", "--max-batch-delay-ms", "200")
    # A slow predict: the requests that arrive while it runs must wait and share the next call.
    env = {"ECHO_PREDICT_SLEEP": "0.2"}
    served = launcher.start(MODELS / "echo", *args, name="echo-batch", env=env)
    yield served
    served.stop()


def v2_body(index: int) -> dict[str, object]:
    """Request `index` carries 1-3 rows whose values identify it."""
    rows = 1 + index % 3
    data = [[index * 100 + r, -index] for r in range(rows)]
    return {
        "id": f"r{index}",
        "inputs": [{"name": "x", "datatype": "INT64", "shape": [rows, 2], "data": data}],
        "parameters": {"calls": True},
    }


async def _send_all(url: str, bodies: list[dict[str, object]], path: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return await asyncio.gather(*(client.post(path, json=body) for body in bodies))


def test_concurrent_v2_requests_share_predict_calls(batching_server: Served) -> None:
    bodies = [v2_body(i) for i in range(REQUESTS)]
    answers = asyncio.run(_send_all(batching_server.url, bodies, "/v2/models/echo-batch/infer"))
    calls: set[int] = set()
    for index, (body, answer) in enumerate(zip(bodies, answers, strict=True)):
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        assert doc["id"] == f"r{index}"
        outputs = {o["name"]: o for o in doc["outputs"]}
        sent = body["inputs"][0]
        assert outputs["x"]["shape"] == sent["shape"]
        assert np.asarray(outputs["x"]["data"]).reshape(sent["shape"]).tolist() == sent["data"]
        assert len(set(outputs["call"]["data"])) == 1  # a request's rows stay in one call
        calls.update(outputs["call"]["data"])
    assert len(calls) < REQUESTS


def test_concurrent_v1_requests_share_predict_calls(batching_server: Served) -> None:
    bodies = [{"instances": [[i, r] for r in range(1 + i % 2)]} for i in range(REQUESTS)]
    answers = asyncio.run(_send_all(batching_server.url, bodies, "/v1/models/echo-batch:predict"))
    calls: set[int] = set()
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert [p["row"] for p in predictions] == body["instances"]
        calls.update(p["call"] for p in predictions)
    assert len(calls) < REQUESTS


def test_batch_sizes_are_in_metrics(batching_server: Served) -> None:
    bodies = [v2_body(i) for i in range(8)]
    asyncio.run(_send_all(batching_server.url, bodies, "/v2/models/echo-batch/infer"))
    text = httpx.get(f"{batching_server.url}/metrics", timeout=10).text
    count = metric(text, 'mls_batch_size_count{model="echo-batch"}')
    rows = metric(text, 'mls_batch_size_sum{model="echo-batch"}')
    served = metric(text, 'mls_requests_total{model="echo-batch",protocol="v2",status="200"}')
    assert 0 < count < served  # fewer predict calls than requests
    assert rows >= served  # every row went through some call
