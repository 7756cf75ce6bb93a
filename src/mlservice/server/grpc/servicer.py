"""`inference.GRPCInferenceService` on the data plane: each RPC converts, delegates, converts back.

Errors become gRPC statuses here (`status.py` picks the code), once for every RPC; inference
requests are counted in the same metrics as REST's, under protocol "grpc", with the HTTP status
REST would have answered, so one query covers both protocols.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mlservice.errors import InferenceError, MLServiceError
from mlservice.server import context as request_context
from mlservice.server.dataplane import DataPlane
from mlservice.server.forward import RELEASE_HEADER
from mlservice.server.grpc.generated import inference_pb2 as pb
from mlservice.server.grpc.messages import as_response, decode_request, encode_response
from mlservice.server.grpc.repository import RepositoryServicer
from mlservice.server.grpc.rpc import RpcContext as Context
from mlservice.server.grpc.status import code_of
from mlservice.server.types import InferRequest

log = logging.getLogger("mlservice.server")
T = TypeVar("T")
Headers = dict[str, str]
PROTOCOL = "grpc"


class InferenceServicer(RepositoryServicer):
    """Method names are the RPCs' (`rpc.method_table` finds them by name).

    The repository RPCs come from `RepositoryServicer` (grpc/repository.py)."""

    def __init__(self, dataplane: DataPlane, *, release: str | None = None) -> None:
        self.dataplane = dataplane
        self.release = release

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Context) -> Any:
        return pb.ServerLiveResponse(live=self.dataplane.live())

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Context) -> Any:
        return pb.ServerReadyResponse(ready=self.dataplane.ready())

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Context) -> Any:
        def answer() -> pb.ModelReadyResponse:
            ready = self.dataplane.model_ready(request.name, request.version or None)
            return pb.ModelReadyResponse(ready=ready)

        return await _answer(context, answer)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: Context) -> Any:
        return pb.ServerMetadataResponse(**self.dataplane.server_metadata())

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Context) -> Any:
        def answer() -> pb.ModelMetadataResponse:
            doc = self.dataplane.model_metadata(request.name, request.version or None)
            tensor = pb.ModelMetadataResponse.TensorMetadata
            return pb.ModelMetadataResponse(
                name=doc["name"],
                versions=doc["versions"],
                platform=doc["platform"],
                inputs=[tensor(**spec) for spec in doc["inputs"]],
                outputs=[tensor(**spec) for spec in doc["outputs"]],
            )

        return await _answer(context, answer)

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Context) -> Any:
        started = time.perf_counter()
        name, version = request.model_name, request.model_version or None
        ctx, token = _enter(name, version)
        failure: MLServiceError | None = None
        try:
            infer_request, headers = _decode(request, context)
            result = await self.dataplane.infer(name, infer_request, headers, version=version)
            reply = self._reply(request, context, ctx, infer_request, result)
        except Exception as exc:
            failure = _failure(name, exc)
        finally:
            request_context.current.reset(token)
        self._observe(name, failure, started)
        if failure is not None:
            context.abort(code_of(failure), failure.message)
        return reply

    def _reply(
        self,
        request: pb.ModelInferRequest,
        context: Context,
        ctx: request_context.RequestContext,
        infer_request: InferRequest,
        result: Any,
    ) -> pb.ModelInferResponse:
        response = as_response(result, infer_request)
        release = ctx.response_headers.get(RELEASE_HEADER, self.release)
        if release is not None:
            context.set_trailing_metadata(((RELEASE_HEADER, release),))
        return encode_response(response, infer_request, raw=bool(request.raw_input_contents))

    def _observe(self, name: str, failure: MLServiceError | None, started: float) -> None:
        label = name if self.dataplane.serves(name) else "<unknown>"  # bounded label values
        status = 200 if failure is None else failure.status_code
        self.dataplane.metrics.observe_request(
            label, PROTOCOL, status, time.perf_counter() - started
        )


def _enter(
    name: str, version: str | None
) -> tuple[
    request_context.RequestContext, contextvars.Token[request_context.RequestContext | None]
]:
    # A transformer forwards over REST to the path a V2 REST call would have had.
    ctx = request_context.RequestContext(_infer_path(name, version), "v2")
    return ctx, request_context.current.set(ctx)


def _decode(request: pb.ModelInferRequest, context: Context) -> tuple[InferRequest, Headers]:
    infer_request = decode_request(request)
    headers = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
    return infer_request, headers


def _failure(name: str, exc: Exception) -> MLServiceError:
    if isinstance(exc, MLServiceError):
        return exc
    log.exception("internal error serving model %s over gRPC", name, exc_info=exc)
    detail = f"{type(exc).__name__}: {exc}"
    return InferenceError(f"Internal error serving model {name}: {detail}")


def _infer_path(name: str, version: str | None) -> str:
    if version is None:
        return f"/v2/models/{name}/infer"
    return f"/v2/models/{name}/versions/{version}/infer"


async def _answer(context: Context, build: Callable[[], T]) -> T:
    try:
        return build()
    except MLServiceError as exc:
        context.abort(code_of(exc), exc.message)
