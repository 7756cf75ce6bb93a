"""Concurrent gRPC calls share predict calls, and gRPC is counted in /metrics like REST."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import tritonclient.grpc as triton
import tritonclient.grpc.aio as triton_aio

from tests.server.grpc.grpc_procs import GrpcServed
from tests.server.server_procs import metric

pytestmark = pytest.mark.e2e
REQUESTS = 16


async def _send_all(target: str) -> list[triton.InferResult]:
    """Request `i` carries 1-2 rows whose values identify it; all go out at once."""
    client = triton_aio.InferenceServerClient(target)
    try:
        calls = []
        for index in range(REQUESTS):
            rows = np.array([[index * 10 + r, -index] for r in range(1 + index % 2)])
            tensor = triton.InferInput("x", list(rows.shape), "INT64")
            tensor.set_data_from_numpy(rows.astype(np.int64))
            # The first call sleeps while the others queue up behind it for the next one.
            parameters = {"calls": True, "sleep": "0.2"}
            calls.append(
                client.infer("echo", [tensor], request_id=f"r{index}", parameters=parameters)
            )
        return list(await asyncio.gather(*calls))
    finally:
        await client.close()


def test_concurrent_calls_share_predict_calls(echo_grpc: GrpcServed) -> None:
    before = metric(echo_grpc.metrics(), 'mls_batch_size_count{model="echo"}')
    results = asyncio.run(_send_all(echo_grpc.target))
    predict_calls: set[int] = set()
    for index, result in enumerate(results):
        assert result.get_response().id == f"r{index}"
        rows = result.as_numpy("x")
        expected = [[index * 10 + r, -index] for r in range(1 + index % 2)]
        assert rows.tolist() == expected  # each caller gets its own rows back
        call = result.as_numpy("call")
        assert len(set(call.tolist())) == 1  # a request's rows stay in one call
        predict_calls.add(int(call[0]))
    assert len(predict_calls) < REQUESTS
    after = metric(echo_grpc.metrics(), 'mls_batch_size_count{model="echo"}')
    assert 0 < after - before < REQUESTS


async def _send_fast(target: str, count: int) -> None:
    """`count` one-row calls at once to a model that answers at once: no call holds it."""
    client = triton_aio.InferenceServerClient(target)
    try:
        tensor = triton.InferInput("x", [1, 2], "INT64")
        tensor.set_data_from_numpy(np.array([[1, 2]], dtype=np.int64))
        results = await asyncio.gather(*(client.infer("echo", [tensor]) for _ in range(count)))
        assert all(r.as_numpy("x").tolist() == [[1, 2]] for r in results)
    finally:
        await client.close()


def test_concurrent_calls_to_a_fast_model_share_predict_calls(echo_grpc: GrpcServed) -> None:
    """Each call waits for its batch on a handler thread of its own, so calls that arrive
    together share predict calls even when every predict is quick (grpc.aio handed them over
    one at a time: about 1.3 rows per predict at 16 in flight)."""
    count = 64
    before = metric(echo_grpc.metrics(), 'mls_batch_size_count{model="echo"}')
    asyncio.run(_send_fast(echo_grpc.target, count))
    predicts = metric(echo_grpc.metrics(), 'mls_batch_size_count{model="echo"}') - before
    assert 0 < predicts <= count / 2


def test_grpc_requests_are_in_metrics_by_protocol(echo_grpc: GrpcServed) -> None:
    series = 'mls_requests_total{model="echo",protocol="grpc",status="200"}'
    unknown = 'mls_requests_total{model="<unknown>",protocol="grpc",status="404"}'
    text = echo_grpc.metrics()
    ok_before, unknown_before = metric(text, series), metric(text, unknown)
    tensor = triton.InferInput("x", [1], "INT32")
    tensor.set_data_from_numpy(np.array([1], dtype=np.int32))
    with echo_grpc.client() as client:
        client.infer("echo", [tensor])
        client.infer("echo", [tensor])
        with pytest.raises(triton.InferenceServerException):
            client.infer("nope", [tensor])
    text = echo_grpc.metrics()
    assert metric(text, series) == ok_before + 2
    assert metric(text, unknown) == unknown_before + 1
    latency = 'mls_request_duration_seconds_count{model="echo",protocol="grpc",status="200"}'
    assert metric(text, latency) >= 2
