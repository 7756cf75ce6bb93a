"""The V2 repository RPCs (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload).

A mixin of `InferenceServicer` (one gRPC service holds them all), on the same repository as
REST's `/v2/repository/...`: the model folders of `--model-repository`, or the models the server
was started with. Only the default repository exists: a `repository_name` is NOT_FOUND.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from mlservice.errors import InferenceError, InvalidInput, MLServiceError, NotFound
from mlservice.server.dataplane import DataPlane
from mlservice.server.grpc.generated import inference_pb2 as pb
from mlservice.server.grpc.rpc import RpcContext as Context
from mlservice.server.grpc.status import code_of
from mlservice.server.repository import repository_of

log = logging.getLogger("mlservice.server")
_IGNORED_ON_UNLOAD = frozenset({"unload_dependents"})


class RepositoryServicer:
    dataplane: DataPlane

    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Context) -> Any:
        try:
            _check_repository(request.repository_name)
            entries = repository_of(self.dataplane).index(ready_only=request.ready)
        except MLServiceError as exc:
            _abort(context, exc)
        reply = pb.RepositoryIndexResponse()
        for entry in entries:
            reply.models.add(
                name=entry.name, version=entry.version, state=entry.state, reason=entry.reason
            )
        return reply

    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Context
    ) -> Any:
        name = request.model_name
        try:
            _check_repository(request.repository_name)
            if request.parameters:
                keys = ", ".join(sorted(request.parameters))
                raise InvalidInput(f"Model {name} cannot be loaded with parameters ({keys}).")
            await repository_of(self.dataplane).load(name)
        except MLServiceError as exc:
            _abort(context, exc)
        except Exception as exc:
            log.warning("model %s failed to load", name, exc_info=exc)
            _abort(context, InferenceError(f"Model {name} failed to load: {exc}."))
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Context
    ) -> Any:
        name = request.model_name
        try:
            _check_repository(request.repository_name)
            unknown = set(request.parameters) - _IGNORED_ON_UNLOAD
            if unknown:
                keys = ", ".join(sorted(unknown))
                raise InvalidInput(f"Model {name} cannot be unloaded with parameters ({keys}).")
            await repository_of(self.dataplane).unload(name)
        except MLServiceError as exc:
            _abort(context, exc)
        return pb.RepositoryModelUnloadResponse()


def _check_repository(repository: str) -> None:
    if repository:
        raise NotFound(
            f"Repository {repository} is not served here; leave repository_name empty "
            "for the models this server was started with."
        )


def _abort(context: Context, exc: MLServiceError) -> NoReturn:
    context.abort(code_of(exc), exc.message)
