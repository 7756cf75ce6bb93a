"""The V2 repository extension over REST (Triton's and KServe's paths).

    POST /v2/repository/index                  [{"name", "version", "state", "reason"}, ...]
    POST /v2/repository/models/{name}/load     {"name": name, "load": true}
    POST /v2/repository/models/{name}/unload   {"name": name, "unload": true}

The index takes `{"ready": true}` to list only ready models. Load refuses Triton's `config` and
`file:` overrides (a model's settings live in its folder); unload accepts and ignores
`unload_dependents` (there are no ensembles here).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlservice.errors import InferenceError, InvalidInput, MLServiceError
from mlservice.server.dataplane import DataPlane
from mlservice.server.repository import repository_of
from mlservice.server.rest.body import read_body
from mlservice.server.rest.responses import error_response, json_response

MAX_BODY_BYTES = 64 * 1024
_IGNORED_ON_UNLOAD = frozenset({"unload_dependents"})


class RepositoryApi:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    def routes(self) -> list[Route]:
        return [
            Route("/v2/repository/index", self.index, methods=["POST"]),
            Route("/v2/repository/models/{name}/load", self.load, methods=["POST"]),
            Route("/v2/repository/models/{name}/unload", self.unload, methods=["POST"]),
        ]

    async def index(self, request: Request) -> Response:
        try:
            doc = await _body(request)
            ready = doc.get("ready", False)
            if not isinstance(ready, bool):
                raise InvalidInput('"ready" must be true or false.')
            entries = repository_of(self.dataplane).index(ready_only=ready)
        except MLServiceError as exc:
            return error_response(exc)
        return json_response([entry.to_dict() for entry in entries])

    async def load(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            parameters = _parameters(await _body(request))
            if parameters:
                keys = ", ".join(sorted(parameters))
                raise InvalidInput(f"Model {name} cannot be loaded with parameters ({keys}).")
            await repository_of(self.dataplane).load(name)
        except MLServiceError as exc:
            return error_response(exc)
        except Exception as exc:  # a model's load() that raised
            return error_response(InferenceError(f"Model {name} failed to load: {exc}."))
        return json_response({"name": name, "load": True})

    async def unload(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            unknown = set(_parameters(await _body(request))) - _IGNORED_ON_UNLOAD
            if unknown:
                keys = ", ".join(sorted(unknown))
                raise InvalidInput(f"Model {name} cannot be unloaded with parameters ({keys}).")
            await repository_of(self.dataplane).unload(name)
        except MLServiceError as exc:
            return error_response(exc)
        return json_response({"name": name, "unload": True})


async def _body(request: Request) -> dict[str, Any]:
    raw = await read_body(request, MAX_BODY_BYTES)
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The request body is not JSON: {exc}.") from None
    if not isinstance(doc, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return doc


def _parameters(doc: dict[str, Any]) -> dict[str, Any]:
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput('"parameters" must be a JSON object.')
    return parameters
