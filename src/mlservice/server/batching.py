"""Adaptive batching: concurrent requests merged along axis 0 into one `predict` call.

An idle model runs a request at once, exactly as without batching: no wait, no extra loop turn
or task, so a model at low load pays nothing for batching. While a call runs, new requests
gather for the next one; a batch goes when the model is free again, as soon as it holds
`max_size` rows, or after `max_delay`, whichever comes first. Only
requests that can share a call are merged: V1 payloads that are exactly `{"instances": [...]}`,
and V2 requests with the same input names, datatypes, trailing dimensions, parameters and
requested outputs. Anything else runs alone, unchanged. A merged call refused as bad input
(400) runs again one request at a time, so only the request at fault gets the error.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlservice.errors import InferenceError, InvalidInput
from mlservice.server.types import InferRequest, InferResponse, RequestInput, ResponseOutput

Headers = Mapping[str, str]
Run = Callable[[Any, Headers], Awaitable[Any]]


@dataclass(slots=True)
class _Item:
    payload: Any
    headers: Headers
    rows: int
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Pending:
    items: list[_Item] = field(default_factory=list)
    rows: int = 0
    timer: asyncio.TimerHandle | None = None


class Batcher:
    def __init__(
        self,
        run: Run,
        *,
        max_size: int,
        max_delay: float,
        observe: Callable[[int], None] = lambda rows: None,
    ) -> None:
        self._run = run
        self._max_size = max_size
        self._max_delay = max_delay
        self._observe = observe
        self._pending: dict[Hashable, _Pending] = {}
        self._running = 0  # calls dispatched and not finished: the model is busy
        self._soon: asyncio.Handle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, payload: Any, headers: Headers) -> Any:
        """Predict `payload`, alone or merged with others; a merged call sees the first headers."""
        key, rows = batch_key(payload)
        if key is None or rows >= self._max_size or self.idle:
            return await self._alone(payload, headers, rows)
        loop = asyncio.get_running_loop()
        pending = self._pending.get(key)
        if pending is not None and pending.rows + rows > self._max_size:
            self._flush(key)
            pending = None
        if pending is None:
            pending = self._pending[key] = _Pending()
            pending.timer = loop.call_later(self._max_delay, self._flush, key)
        future: asyncio.Future[Any] = loop.create_future()
        pending.items.append(_Item(payload, headers, rows, future))
        pending.rows += rows
        if pending.rows >= self._max_size:
            self._flush(key)
        elif self._running == 0:
            self._flush_soon()
        return await future

    @property
    def idle(self) -> bool:
        """No call running and none about to go: a request now has nobody to wait for."""
        return self._running == 0 and not self._pending

    async def _alone(self, payload: Any, headers: Headers, rows: int) -> Any:
        self._observe(rows)
        self._running += 1
        try:
            return await self._run(payload, headers)
        finally:
            self._finished()

    def _flush_soon(self) -> None:
        """Flush on the next loop turn: requests read in this turn still join the batch."""
        if self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._soon = None
        for key in list(self._pending):
            self._flush(key)

    def _flush(self, key: Hashable) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self._running += 1  # now, not when the task starts: later arrivals must see it busy
        task = asyncio.get_running_loop().create_task(self._execute(pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finished(self) -> None:
        self._running -= 1
        if self._running == 0 and self._pending:
            self._flush_soon()

    async def _execute(self, pending: _Pending) -> None:
        items = pending.items
        self._observe(pending.rows)
        try:
            if len(items) == 1:
                results = [await self._run(items[0].payload, items[0].headers)]
            else:
                merged = await self._run(merge([item.payload for item in items]), items[0].headers)
                results = split(merged, [item.rows for item in items])
        except InvalidInput as exc:
            if len(items) == 1:
                _fail(items, exc)
            else:
                # One request's bad rows must not fail the others: each runs again alone, and
                # only the one at fault gets the 400.
                await asyncio.gather(*(self._retry(item) for item in items))
            return
        except Exception as exc:
            _fail(items, exc)
            return
        finally:
            self._finished()
        for item, result in zip(items, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    async def _retry(self, item: _Item) -> None:
        try:
            result = await self._run(item.payload, item.headers)
        except Exception as exc:
            _fail([item], exc)
        else:
            if not item.future.done():
                item.future.set_result(result)


def _fail(items: list[_Item], exc: Exception) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(exc)


def batch_key(payload: Any) -> tuple[Hashable | None, int]:
    """Requests with equal keys can share a call; `rows` is their size along axis 0."""
    if isinstance(payload, dict):
        instances = payload.get("instances")
        if len(payload) == 1 and isinstance(instances, list) and instances:
            return ("v1",), len(instances)
        return None, 1
    if isinstance(payload, InferRequest):
        return _v2_key(payload)
    return None, 1


def _v2_key(request: InferRequest) -> tuple[Hashable | None, int]:
    rows = {tensor.shape[0] if tensor.shape else -1 for tensor in request.inputs}
    if len(rows) != 1 or (count := rows.pop()) < 1:
        return None, 1
    try:
        key = (
            "v2",
            tuple((t.name, t.datatype, tuple(t.shape[1:])) for t in request.inputs),
            _freeze(request.parameters),
            None
            if request.outputs is None
            else tuple((o.name, _freeze(o.parameters)) for o in request.outputs),
        )
        hash(key)
    except TypeError:  # a parameter value that cannot be compared safely
        return None, 1
    return key, count


def _freeze(parameters: dict[str, Any]) -> Hashable:
    return tuple(sorted((k, v) for k, v in parameters.items() if k != "binary_data_size"))


def merge(payloads: list[Any]) -> Any:
    first = payloads[0]
    if isinstance(first, dict):
        return {"instances": [row for p in payloads for row in p["instances"]]}
    inputs = []
    for i, tensor in enumerate(first.inputs):
        parts = [p.inputs[i].data for p in payloads]
        data = np.concatenate(parts) if tensor.datatype != "BYTES" else _concat_objects(parts)
        inputs.append(
            RequestInput(tensor.name, tensor.datatype, [len(data), *tensor.shape[1:]], data)
        )
    return InferRequest(inputs, parameters=first.parameters, outputs=first.outputs)


def _concat_objects(parts: list[Any]) -> Any:
    return np.concatenate([np.asarray(p, dtype=np.object_) for p in parts])


def split(result: Any, rows: list[int]) -> list[Any]:
    """Cut a batched result back into one result per request, by row counts."""
    total = sum(rows)
    bounds = np.cumsum([0, *rows]).tolist()
    spans = list(itertools.pairwise(bounds))
    if isinstance(result, InferResponse):
        return [_slice_response(result, start, stop, total) for start, stop in spans]
    if isinstance(result, dict) and "predictions" in result:
        predictions = result["predictions"]
        _check_rows(len(predictions), total)
        return [{"predictions": predictions[start:stop]} for start, stop in spans]
    if isinstance(result, list | np.ndarray):
        _check_rows(len(result), total)
        return [result[start:stop] for start, stop in spans]
    raise InferenceError(
        f"A batched predict returned {type(result).__name__}, which cannot be split by rows."
    )


def _slice_response(result: InferResponse, start: int, stop: int, total: int) -> InferResponse:
    outputs = []
    for output in result.outputs:
        data = np.asarray(output.data)
        _check_rows(data.shape[0] if data.ndim else 0, total, name=output.name)
        part = data[start:stop]
        outputs.append(
            ResponseOutput(output.name, part, output.datatype, list(part.shape), output.parameters)
        )
    return InferResponse(outputs, result.model_name, result.model_version, None, result.parameters)


def _check_rows(got: int, total: int, *, name: str = "predictions") -> None:
    if got != total:
        raise InferenceError(
            f"A batched predict returned {got} rows of {name} for {total} input rows."
        )
