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
from typing import Any, NoReturn, TypeVar

from mlservice.errors import InferenceError, InvalidInput, MLServiceError, NotFound, Unavailable
from mlservice.server import context as request_context
from mlservice.server.dataplane import DataPlane
from mlservice.server.forward import RELEASE_HEADER
from mlservice.server.grpc.generated import inference_pb2 as pb
from mlservice.server.grpc.messages import as_response, decode_request, encode_response
from mlservice.server.grpc.status import code_of
from mlservice.server.types import InferRequest

log = logging.getLogger("mlservice.server")
Context = Any  # grpc.aio.ServicerContext; grpcio ships no type hints
T = TypeVar("T")
Headers = dict[str, str]
PROTOCOL = "grpc"


class InferenceServicer:
    """Registered with `add_GRPCInferenceServiceServicer_to_server`; method names are the RPCs'."""

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
            await _abort(context, failure)
        return reply

    def infer_on_thread(self, request: pb.ModelInferRequest, context: Context) -> Any | None:
        """ModelInfer from a handler thread of grpc's, without the event loop: the whole call
        here when the model runs in one hop to the inference thread; None when the request
        needs the loop (batching, async stages, a time limit, or an error `ModelInfer` words)."""
        started = time.perf_counter()
        name, version = request.model_name, request.model_version or None
        try:
            call = self.dataplane.fused_call(name, version)
        except MLServiceError:
            return None
        if call is None:
            return None
        ctx, token = _enter(name, version)
        failure: MLServiceError | None = None
        try:
            infer_request, headers = _decode(request, context)
            result = call(infer_request, headers)
            reply = self._reply(request, context, ctx, infer_request, result)
        except Exception as exc:
            failure = _failure(name, exc)
        finally:
            request_context.current.reset(token)
        self._observe(name, failure, started)
        if failure is not None:
            context.abort(code_of(failure), failure.message)  # raises: ends the RPC
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

    # -- model repository: the models this server was started with ---------------------------
    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Context) -> Any:
        def answer() -> pb.RepositoryIndexResponse:
            _check_repository(request.repository_name)
            reply = pb.RepositoryIndexResponse()
            for name in self.dataplane.model_names:
                model = self.dataplane.model(name)
                if request.ready and not model.ready:
                    continue
                reply.models.add(
                    name=name,
                    version=model.version or "",
                    state="READY" if model.ready else "UNAVAILABLE",
                    reason="" if model.ready else "not loaded, or unloaded",
                )
            return reply

        return await _answer(context, answer)

    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Context
    ) -> Any:
        name = request.model_name
        try:
            _check_repository(request.repository_name)
            if request.parameters:
                keys = ", ".join(sorted(request.parameters))
                raise InvalidInput(f"Model {name} cannot be loaded with parameters ({keys}).")
            if not await self.dataplane.load(name):
                raise Unavailable(f"Model {name} loaded but reports not ready.")
        except MLServiceError as exc:
            await _abort(context, exc)
        except Exception as exc:
            log.warning("model %s failed to load", name, exc_info=exc)
            await _abort(context, InferenceError(f"Model {name} failed to load: {exc}."))
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Context
    ) -> Any:
        def answer() -> pb.RepositoryModelUnloadResponse:
            _check_repository(request.repository_name)
            # The Model API has no unload hook: the model stops serving (and the server stops
            # being ready) until RepositoryModelLoad runs its load() again.
            self.dataplane.model(request.model_name).ready = False
            return pb.RepositoryModelUnloadResponse()

        return await _answer(context, answer)


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


def _check_repository(repository: str) -> None:
    if repository:
        raise NotFound(
            f"Repository {repository} is not served here; leave repository_name empty "
            "for the models this server was started with."
        )


async def _answer(context: Context, build: Callable[[], T]) -> T:
    try:
        return build()
    except MLServiceError as exc:
        await _abort(context, exc)


async def _abort(context: Context, exc: MLServiceError) -> NoReturn:
    await context.abort(code_of(exc), exc.message)
    # abort() ends the RPC by raising; this line only tells the type checker so.
    raise AssertionError("grpc.aio abort returned")
