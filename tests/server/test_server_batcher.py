"""The batcher in-process: who gets merged with whom, how results are cut back, what idle costs.

An idle batcher runs a request at once, so requests gather only while the model is busy: the
merging tests submit theirs behind a call that holds the model (`submit_all`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import pytest

from mlservice.errors import InferenceError, InvalidInput
from mlservice.model import Model
from mlservice.server.batching import Batcher
from mlservice.server.dataplane import BatchSettings, DataPlane
from mlservice.server.types import InferRequest, InferResponse, RequestInput, ResponseOutput


class Recorder:
    """A `run` that records each call's payload and answers like an echo model."""

    def __init__(self, answer: Any = None) -> None:
        self.calls: list[Any] = []
        self.sizes: list[int] = []
        self.answer = answer

    async def __call__(self, payload: Any, headers: Any) -> Any:
        if isinstance(payload, dict) and "hold" in payload:  # `submit_all`'s busy call
            await payload["hold"].wait()
            return {"predictions": []}
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
    """Submit `payloads` together while one call keeps the model busy, as under load.

    The busy call runs alone (its payload cannot be batched) and is observed as 1 row.
    """
    hold = asyncio.Event()
    busy = asyncio.ensure_future(batcher.submit({"hold": hold}, {}))
    await asyncio.sleep(0)  # the busy call is running: the model is not idle
    tasks = [asyncio.ensure_future(batcher.submit(p, {})) for p in payloads]
    await asyncio.sleep(0)  # every request is waiting for the next call
    hold.set()
    await busy
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_v1_requests_merge_and_split() -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=100, max_delay=0.01, observe=run.sizes.append)
    payloads = [{"instances": [i, i + 0.5]} for i in range(5)]
    results = asyncio.run(submit_all(batcher, payloads))
    assert len(run.calls) == 1
    assert run.sizes == [1, 10]  # the busy call, then all five requests in one
    assert results == [{"predictions": [i * 10, (i + 0.5) * 10]} for i in range(5)]


def test_a_full_batch_goes_before_the_delay() -> None:
    run = Recorder()
    batcher = Batcher(run, max_size=4, max_delay=30.0, observe=run.sizes.append)

    async def scenario() -> list[Any]:
        return await asyncio.wait_for(submit_all(batcher, [v2(i) for i in range(8)]), 5)

    results = asyncio.run(scenario())
    assert run.sizes == [1, 4, 4]
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

    run = Recorder(explode)
    batcher = Batcher(run, max_size=100, max_delay=0.01)
    results = asyncio.run(submit_all(batcher, [v2(i) for i in range(3)]))
    assert len(run.calls) == 1
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
    results = asyncio.run(submit_all(batcher, payloads))
    assert results[0] == {"predictions": [10]}
    assert isinstance(results[1], InvalidInput)
    assert results[2] == {"predictions": [20, 30]}
    assert run.calls[0] == {"instances": [1, "a", 2, 3]}  # merged first, then one by one
    assert len(run.calls) == 4


def test_a_result_with_the_wrong_row_count_is_an_error() -> None:
    batcher = Batcher(Recorder(lambda p: {"predictions": [1]}), max_size=100, max_delay=0.01)
    payloads = [{"instances": [i]} for i in range(2)]
    for result in asyncio.run(submit_all(batcher, payloads)):
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


class CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that counts what a request costs it: callbacks, thread hand-offs, tasks."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = {"callbacks": 0, "from_threads": 0, "tasks": 0}

    def call_soon(  # type: ignore[override]
        self, callback: Any, *args: Any, context: Any = None
    ) -> asyncio.Handle:
        self.counts["callbacks"] += 1
        return super().call_soon(callback, *args, context=context)

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Any, *args: Any, context: Any = None
    ) -> asyncio.Handle:
        self.counts["from_threads"] += 1
        return super().call_soon_threadsafe(callback, *args, context=context)

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        self.counts["tasks"] += 1
        return super().create_task(coro, **kwargs)


def loop_cost(
    make: Callable[[], Coroutine[Any, Any, Any]], *, requests: int = 10
) -> dict[str, float]:
    """What one request costs the loop, over `requests` in a row (each alone: an idle model)."""
    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, CountingLoop)
        runner.run(make())  # warm-up: first-call set-up is not a per-request cost

        async def sequence() -> None:
            for _ in range(requests):
                await make()

        before = dict(loop.counts)
        runner.run(sequence())
        return {k: (loop.counts[k] - before[k]) / requests for k in before}


def test_an_idle_batcher_runs_the_request_at_once() -> None:
    """No extra loop turn, task or callback: the same cost as calling `run` directly."""
    run = Recorder()
    batcher = Batcher(run, max_size=64, max_delay=30.0)
    direct = loop_cost(lambda: run({"instances": [1]}, {}))
    batched = loop_cost(lambda: batcher.submit({"instances": [1]}, {}))
    assert batched == direct
    assert len(run.calls) == 2 * 11


class SyncEcho(Model):
    """A sync model: its predict runs on the inference thread, one hand-off per call."""

    def __init__(self) -> None:
        super().__init__("echo")
        self.ready = True
        self.calls = 0

    def predict(self, payload: Any, headers: Any = None) -> Any:
        self.calls += 1
        if isinstance(payload, InferRequest):
            return InferResponse([ResponseOutput(t.name, t.data) for t in payload.inputs])
        return {"predictions": payload["instances"]}


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_an_idle_model_pays_nothing_for_batching(protocol: str) -> None:
    """Through the data plane (as REST and gRPC call it): batching on, one request at a time,
    costs the same thread hand-offs and loop callbacks as batching off."""

    def cost(batching: BatchSettings | None) -> tuple[dict[str, float], int]:
        dataplane = DataPlane(batching=batching)
        model = SyncEcho()
        dataplane.register(model)

        def request() -> Coroutine[Any, Any, Any]:
            payload = {"instances": [[1, 2]]} if protocol == "v1" else v2(1, 2)
            return dataplane.infer("echo", payload, {})

        try:
            return loop_cost(request), model.calls
        finally:
            dataplane._thread.stop()

    plain, plain_calls = cost(None)
    batched, batched_calls = cost(BatchSettings(max_size=32, max_delay_seconds=30.0))
    assert plain["from_threads"] == 1  # the one hop to the inference thread and back
    assert batched == plain
    assert batched_calls == plain_calls == 11
