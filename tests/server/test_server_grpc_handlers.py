"""gRPC's handler threads: a one-hop model never touches the loop; everything else still does.

The servicer's checks run in a child process (`python -m tests.server.test_server_grpc_handlers`):
our generated stubs register package `inference`, which clashes with tritonclient's copy that
the gRPC tests load in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from mlservice.errors import InferenceError, ModelNotFound, Unavailable
from mlservice.model import Model
from mlservice.server.dataplane import BatchSettings, DataPlane, Serving
from mlservice.server.executor import InferenceThread

ROOT = Path(__file__).parents[2]


class Echo(Model):
    """Sync predict: one hop to the inference thread. Records the thread it ran on."""

    def __init__(self, name: str = "echo", *, serving: Serving | None = None) -> None:
        super().__init__(name)
        self.ready = True
        self.threads: list[str] = []
        if serving is not None:
            self.serving = serving

    def predict(self, payload: Any, headers: Any = None) -> Any:
        self.threads.append(threading.current_thread().name)
        if payload == "boom":
            raise ValueError("boom")
        return payload


class AsyncEcho(Model):
    def __init__(self) -> None:
        super().__init__("async-echo")
        self.ready = True

    async def predict(self, payload: Any, headers: Any = None) -> Any:
        return payload


def test_call_waits_for_the_inference_thread_without_a_loop() -> None:
    thread = InferenceThread(name="mls-test-inference")
    try:
        assert thread.call(lambda: threading.current_thread().name) == "mls-test-inference"
        with pytest.raises(ZeroDivisionError):
            thread.call(lambda: 1 / 0)
    finally:
        thread.stop()


def test_a_one_hop_model_runs_on_the_inference_thread_from_any_thread() -> None:
    """No event loop runs here at all: the call cannot be using one."""
    dataplane = DataPlane()
    model = Echo()
    dataplane.register(model)
    try:
        call = dataplane.fused_call("echo")
        assert call is not None
        assert call({"x": 1}, {}) == {"x": 1}
        assert model.threads == ["mls-inference"]
        with pytest.raises(InferenceError, match="Model echo failed: ValueError: boom"):
            call("boom", {})
    finally:
        asyncio.run(dataplane.stop())


@pytest.mark.parametrize(
    "make",
    [
        lambda: (DataPlane(batching=BatchSettings(8, 0.001)), Echo()),
        lambda: (DataPlane(), Echo(serving=Serving(timeout=5.0))),
        lambda: (DataPlane(), AsyncEcho()),
    ],
    ids=["batching", "time-limit", "async-predict"],
)
def test_what_needs_the_loop_is_not_fused(make: Any) -> None:
    dataplane, model = make()
    dataplane.register(model)
    try:
        assert dataplane.fused_call(model.name) is None
    finally:
        asyncio.run(dataplane.stop())


def test_fused_call_refuses_like_infer() -> None:
    dataplane = DataPlane()
    model = Echo()
    dataplane.register(model)
    try:
        with pytest.raises(ModelNotFound):
            dataplane.fused_call("nope")
        model.ready = False
        with pytest.raises(Unavailable):
            dataplane.fused_call("echo")
    finally:
        asyncio.run(dataplane.stop())


def test_the_blocking_servicer() -> None:
    """Loop use, answers and status codes of ModelInfer through the handler-thread adapter."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.server.test_server_grpc_handlers"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")


# -- the child process --------------------------------------------------------------------------
class _Aborted(Exception):
    pass


class _Context:
    """grpc's sync ServicerContext as far as the servicer uses it; abort raises, as grpc's does."""

    def __init__(self) -> None:
        self.code: Any = None
        self.details = ""
        self.trailing: Any = None
        self.callbacks: list[Any] = []

    def invocation_metadata(self) -> Any:
        return (("x-test", "1"),)

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = metadata

    def add_callback(self, callback: Any) -> bool:
        self.callbacks.append(callback)
        return True

    def abort(self, code: Any, details: str) -> None:
        self.code, self.details = code, details
        raise _Aborted


def _child() -> None:
    import grpc

    from mlservice.server.grpc.generated import inference_pb2 as pb
    from mlservice.server.grpc.handlers import BlockingServicer
    from mlservice.server.grpc.servicer import InferenceServicer
    from mlservice.server.types import InferResponse, ResponseOutput

    class Tensors(Echo):
        def predict(self, payload: Any, headers: Any = None) -> Any:
            self.threads.append(threading.current_thread().name)
            return InferResponse([ResponseOutput("y", payload.inputs[0].data * 2)])

    loop = asyncio.new_event_loop()
    callbacks = 0
    original = loop.call_soon

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal callbacks
        callbacks += 1
        return original(*args, **kwargs)

    loop.call_soon = counting  # type: ignore[method-assign,assignment]
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def request(model: str) -> Any:
        message = pb.ModelInferRequest(model_name=model, id="r1")
        tensor = message.inputs.add(name="x", datatype="FP32", shape=[2])
        tensor.contents.fp32_contents.extend([1.0, 2.5])
        return message

    for batching in (None, BatchSettings(8, 0.001)):
        dataplane = DataPlane(batching=batching)
        model = Tensors("m")
        dataplane.register(model)
        handlers = BlockingServicer(InferenceServicer(dataplane, release="v7"), loop)
        before = callbacks
        context = _Context()
        reply = handlers.ModelInfer(request("m"), context)
        assert list(reply.outputs[0].contents.fp32_contents) == [2.0, 5.0], reply
        assert reply.id == "r1"
        assert context.trailing == (("x-mls-release", "v7"),)
        if batching is None:
            assert callbacks == before, "a one-hop model went through the loop"
            assert context.callbacks == []
        else:
            assert callbacks > before, "a batched model must go through the batcher's loop"
            assert len(context.callbacks) == 1  # cancels the coroutine when the RPC ends
        assert model.threads == ["mls-inference"]

        # Errors: the same codes and messages whichever way the call went.
        context = _Context()
        with contextlib.suppress(_Aborted):
            handlers.ModelInfer(request("nope"), context)
        assert context.code == grpc.StatusCode.NOT_FOUND, context.code
        assert context.details == "Model nope is not served here."
        bad = request("m")
        bad.inputs[0].shape[:] = [3]
        context = _Context()
        with contextlib.suppress(_Aborted):
            handlers.ModelInfer(bad, context)
        assert context.code == grpc.StatusCode.INVALID_ARGUMENT, context.code
        live = handlers.ServerLive(pb.ServerLiveRequest(), _Context())
        assert live.live is True
        asyncio.run_coroutine_threadsafe(dataplane.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    print("ok")


if __name__ == "__main__":
    _child()
