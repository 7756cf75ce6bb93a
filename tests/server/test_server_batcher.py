"""The batcher in-process: who gets merged with whom, and how results are cut back."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mlservice.errors import InferenceError, InvalidInput
from mlservice.server.batching import Batcher
from mlservice.server.types import InferRequest, InferResponse, RequestInput, ResponseOutput


class Recorder:
    """A `run` that records each call's payload and answers like an echo model."""

    def __init__(self, answer: Any = None) -> None:
        self.calls: list[Any] = []
        self.sizes: list[int] = []
        self.answer = answer

    async def __call__(self, payload: Any, headers: Any) -> Any:
        self.calls.append(payload)
        if self.answer is not None:
            return self.answer(payload)
        if isinstance(payload, InferRequest):
            outputs = [ResponseOutput(t.name, t.data * 10) for t in payload.inputs]
            return InferResponse(outputs, model_name="m")
        return {"predictions": [row * 10 for row in payload["instances"]]}


def v2(*rows: float, datatype: str = "FP64") -> InferRequest:
    data = np.array(rows, dtype=np.float64).reshape(-1, 1)
    return InferRequest([RequestInput("x", datatype, list(data.shape), data)])


async def submit_all(batcher: Batcher, payloads: list[Any]) -> list[Any]:
    return await asyncio.gather(*(batcher.submit(p, {}) for p in payloads))


def test_v1_requests_merge_and_split() -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=100, max_delay=0.01, observe=run.sizes.append)
    payloads = [{"instances": [i, i + 0.5]} for i in range(5)]
    results = asyncio.run(submit_all(batcher, payloads))
    assert len(run.calls) == 1
    assert run.sizes == [10]
    assert results == [{"predictions": [i * 10, (i + 0.5) * 10]} for i in range(5)]


def test_a_full_batch_goes_before_the_delay() -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=4, max_delay=30.0, observe=run.sizes.append)

    async def scenario() -> list[Any]:
        return await asyncio.wait_for(submit_all(batcher, [v2(i) for i in range(8)]), 5)

    results = asyncio.run(scenario())
    assert run.sizes == [4, 4]
    for i, result in enumerate(results):
        assert result.outputs[0].data.tolist() == [[i * 10]]
        assert result.outputs[0].shape == [1, 1]


def test_only_compatible_requests_share_a_call() -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=100, max_delay=0.01)
    with_params = v2(3)
    with_params.parameters = {"temperature": 1}
    payloads = [v2(1), v2(2, datatype="FP32"), with_params, v2(4), {"instances": [1], "extra": 1}]
    results = asyncio.run(submit_all(batcher, payloads))
    assert len(run.calls) == 4  # v2(1) and v2(4) together; the others alone
    assert results[3].outputs[0].data.tolist() == [[40]]
    assert results[4] == {"predictions": [10]}


def test_a_failing_call_fails_every_request_in_it() -> None:
    def explode(payload: Any) -> Any:
        raise InferenceError("Model m failed: boom")

    batcher = Batcher(Recorder(explode), max_size=100, max_delay=0.01)

    async def scenario() -> list[Any]:
        tasks = [batcher.submit(v2(i), {}) for i in range(3)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(scenario())
    assert [str(r) for r in results] == ["Model m failed: boom"] * 3


def test_one_requests_bad_input_fails_only_that_request() -> None:
    """F6: a merged call refused as bad input runs again per request; only the bad one is 400."""

    def strict(payload: Any) -> Any:
        if any(isinstance(row, str) for row in payload["instances"]):
            raise InvalidInput("Model m takes numbers.")
        return {"predictions": [row * 10 for row in payload["instances"]]}

    run = Recorder(strict)
    batcher = Batcher(run, max_size=100, max_delay=0.01)
    payloads = [{"instances": [1]}, {"instances": ["a"]}, {"instances": [2, 3]}]

    async def scenario() -> list[Any]:
        tasks = [batcher.submit(p, {}) for p in payloads]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(scenario())
    assert results[0] == {"predictions": [10]}
    assert isinstance(results[1], InvalidInput)
    assert results[2] == {"predictions": [20, 30]}
    assert run.calls[0] == {"instances": [1, "a", 2, 3]}  # merged first, then one by one
    assert len(run.calls) == 4


def test_a_result_with_the_wrong_row_count_is_an_error() -> None:
    batcher = Batcher(Recorder(lambda p: {"predictions": [1]}), max_size=100, max_delay=0.01)

    async def scenario() -> list[Any]:
        tasks = [batcher.submit({"instances": [i]}, {}) for i in range(2)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    for result in asyncio.run(scenario()):
        assert isinstance(result, InferenceError)
        assert (
            result.message == "A batched predict returned 1 rows of predictions for 2 input rows."
        )


@pytest.mark.parametrize("rows", [8, 9])
def test_a_request_as_big_as_a_batch_runs_alone(rows: int) -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=8, max_delay=30.0)
    result = asyncio.run(asyncio.wait_for(batcher.submit(v2(*range(rows)), {}), 5))
    assert result.outputs[0].data.shape == (rows, 1)
    assert len(run.calls) == 1


def test_an_idle_model_does_not_wait_for_the_delay() -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=64, max_delay=30.0)
    result = asyncio.run(asyncio.wait_for(batcher.submit({"instances": [1]}, {}), 5))
    assert result == {"predictions": [10]}


def test_requests_arriving_during_a_call_share_the_next_one() -> None:
    release = asyncio.Event()

    class Slow(Recorder):
        async def __call__(self, payload: Any, headers: Any) -> Any:
            if not self.calls:
                await release.wait()  # the first call runs until every request has arrived
            return await super().__call__(payload, headers)

    run = Slow()
    batcher = Batcher(run, max_size=64, max_delay=30.0, observe=run.sizes.append)

    async def scenario() -> list[Any]:
        first = asyncio.ensure_future(batcher.submit({"instances": [0]}, {}))
        await asyncio.sleep(0.01)  # bounded: the first call is now running
        rest = [asyncio.ensure_future(batcher.submit({"instances": [i]}, {})) for i in range(1, 6)]
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.wait_for(asyncio.gather(first, *rest), 5)

    results = asyncio.run(scenario())
    assert run.sizes == [1, 5]
    assert results == [{"predictions": [i * 10]} for i in range(6)]
