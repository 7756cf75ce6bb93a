"""Health, metadata and metrics endpoints of a real server, including under a long predict."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mlservice import __version__
from tests.server.server_procs import Served, metric

pytestmark = pytest.mark.e2e


def test_health_answers_while_a_long_predict_runs(echo_server: Served) -> None:
    body = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],
        "parameters": {"sleep": 3},
    }
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=echo_server.url, timeout=30) as c:
        slow = pool.submit(c.post, "/v2/models/echo/infer", json=body)
        time.sleep(0.3)  # bounded: lets the slow request reach the inference thread
        started = time.monotonic()
        for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/echo/ready"):
            assert c.get(path).status_code == 200
        elapsed = time.monotonic() - started
        assert not slow.done()  # the health checks really overlapped the predict
        assert slow.result().status_code == 200
    assert elapsed < 1.5


def test_server_and_model_metadata(echo_server: Served) -> None:
    with httpx.Client(base_url=echo_server.url, timeout=10) as client:
        assert client.get("/v2").json() == {
            "name": "mlservice",
            "version": __version__,
            "extensions": ["binary_tensor_data"],
        }
        assert client.get("/v1/models").json() == {"models": ["echo"]}
        assert client.get("/v1/models/echo").json() == {"name": "echo", "ready": True}
        meta = client.get("/v2/models/echo/versions/1").json()
        assert meta == {"name": "echo", "versions": [], "platform": "", "inputs": [], "outputs": []}


def test_metrics_count_requests_by_model_protocol_and_status(sklearn_server: Served) -> None:
    url = sklearn_server.url
    before = httpx.get(f"{url}/metrics", timeout=10).text
    ok = 'mls_requests_total{model="iris",protocol="v1",status="200"}'
    bad = 'mls_requests_total{model="iris",protocol="v2",status="400"}'
    latency = 'mls_request_duration_seconds_count{model="iris",protocol="v1",status="200"}'
    for _ in range(3):
        httpx.post(f"{url}/v1/models/iris:predict", json={"instances": [[1, 2, 3, 4]]}, timeout=10)
    httpx.post(f"{url}/v2/models/iris/infer", json={"inputs": []}, timeout=10)
    after = httpx.get(f"{url}/metrics", timeout=10)
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert metric(text, ok) - metric(before, ok) == 3
    assert metric(text, bad) - metric(before, bad) == 1
    assert metric(text, latency) - metric(before, latency) == 3
    assert metric(text, 'mls_model_load_seconds{model="iris"}') > 0
    assert metric(text, 'mls_batch_size_count{model="iris"}') == 0  # batching is off
