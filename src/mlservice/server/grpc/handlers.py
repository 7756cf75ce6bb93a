"""The servicer's RPCs as grpc's thread-pool server calls them: blocking, one handler thread each.

grpc.aio costs a Python task, several loop wake-ups and a hand-off from grpc's poller thread per
call, and the model's answer came back through the loop once more: about twice REST's CPU per
request. The thread-pool server reads and writes messages on its own threads; `ModelInfer` of a
model that runs in one hop (sync stages, no batching, no time limit) then goes straight to the
inference thread and back, never touching the loop. Every other call, and every other RPC, runs
the servicer's coroutine on the loop and waits for it, so the servicer stays the one place
that knows the protocol. A call the client abandons (gone, or past its deadline) cancels that
coroutine, as grpc.aio did.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from mlservice.server.grpc.servicer import Context, InferenceServicer


class BlockingServicer:
    """Registered with `add_GRPCInferenceServiceServicer_to_server` in the servicer's place."""

    def __init__(self, servicer: InferenceServicer, loop: asyncio.AbstractEventLoop) -> None:
        self._servicer = servicer
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[[Any, Context], Any]:
        method = getattr(self._servicer, name)
        return functools.partial(self._on_loop, method)

    def ModelInfer(self, request: Any, context: Context) -> Any:
        reply = self._servicer.infer_on_thread(request, context)
        if reply is None:
            reply = self._on_loop(self._servicer.ModelInfer, request, context)
        return reply

    def _on_loop(
        self,
        method: Callable[[Any, Context], Coroutine[Any, Any, Any]],
        request: Any,
        context: Context,
    ) -> Any:
        future = asyncio.run_coroutine_threadsafe(method(request, context), self._loop)
        context.add_callback(future.cancel)  # runs when the RPC ends, answered or abandoned
        return future.result()
