"""V2 (Open Inference Protocol) REST: server and model health, metadata, and `infer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlservice.errors import MLServiceError, Unavailable
from mlservice.server.codecs.payload import Encoded, decode_v2, encode_v2
from mlservice.server.dataplane import DataPlane
from mlservice.server.rest.body import read_body
from mlservice.server.rest.handler import RestSettings, handle
from mlservice.server.rest.responses import error_response, json_response
from mlservice.server.types import InferRequest

_MODEL = "/v2/models/{name}"
_VERSIONED = "/v2/models/{name}/versions/{version}"


class V2:
    def __init__(self, dataplane: DataPlane, settings: RestSettings) -> None:
        self.dataplane = dataplane
        self.settings = settings

    def routes(self) -> list[Route]:
        routes = [
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
        ]
        for prefix in (_MODEL, _VERSIONED):
            routes += [
                Route(prefix, self.model_metadata, methods=["GET"]),
                Route(prefix + "/ready", self.model_ready, methods=["GET"]),
                Route(prefix + "/infer", self.infer, methods=["POST"]),
            ]
        return routes

    async def server_metadata(self, request: Request) -> Response:
        return json_response(self.dataplane.server_metadata())

    async def live(self, request: Request) -> Response:
        return json_response({"live": self.dataplane.live()})

    async def ready(self, request: Request) -> Response:
        ready = self.dataplane.ready()
        return json_response({"ready": ready}, 200 if ready else 503)

    async def model_metadata(self, request: Request) -> Response:
        return _guard(lambda: json_response(self.dataplane.model_metadata(*_target(request))))

    async def model_ready(self, request: Request) -> Response:
        def answer() -> Response:
            name, version = _target(request)
            if not self.dataplane.model_ready(name, version):
                raise Unavailable(f"Model {name} is not ready.")
            return json_response({"name": name, "ready": True})

        return _guard(answer)

    async def infer(self, request: Request) -> Response:
        name, version = _target(request)

        async def work() -> Encoded:
            body = await read_body(request, self.settings.max_body_bytes)
            headers = request.headers
            payload = decode_v2(
                body,
                content_type=headers.get("content-type"),
                header_length=headers.get("inference-header-content-length"),
            )
            request_doc = payload if isinstance(payload, InferRequest) else None
            if request_doc is not None:
                request_doc.model_name = name
            result = await self.dataplane.infer(name, payload, headers, version=version)
            return encode_v2(result, request_doc, model_name=name)

        return await handle(
            request,
            dataplane=self.dataplane,
            settings=self.settings,
            protocol="v2",
            model=name,
            work=work,
        )


def _target(request: Request) -> tuple[str, Any]:
    params = request.path_params
    return params["name"], params.get("version")


def _guard(answer: Callable[[], Response]) -> Response:
    try:
        return answer()
    except MLServiceError as exc:
        return error_response(exc)
