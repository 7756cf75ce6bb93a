"""KServe V1 REST: list, status, `:predict` and `:explain`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlservice.errors import MLServiceError, Unavailable
from mlservice.server.codecs.payload import Encoded, decode_body, encode_v1
from mlservice.server.dataplane import DataPlane
from mlservice.server.rest.body import read_body
from mlservice.server.rest.handler import RestSettings, handle
from mlservice.server.rest.responses import error_response, json_response


class V1:
    def __init__(self, dataplane: DataPlane, settings: RestSettings) -> None:
        self.dataplane = dataplane
        self.settings = settings

    def routes(self) -> list[Route]:
        # `curl -T file` uploads with PUT, so the verbs accept it as well as POST.
        return [
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{name}:predict", self.predict, methods=["POST", "PUT"]),
            Route("/v1/models/{name}:explain", self.explain, methods=["POST", "PUT"]),
            Route("/v1/models/{name}", self.model_status, methods=["GET"]),
        ]

    async def list_models(self, request: Request) -> Response:
        return json_response({"models": self.dataplane.model_names})

    async def model_status(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            if not self.dataplane.model_ready(name):
                raise Unavailable(f"Model {name} is not ready.")
        except MLServiceError as exc:
            return error_response(exc)
        return json_response({"name": name, "ready": True})

    async def predict(self, request: Request) -> Response:
        return await self._verb(request, explain=False)

    async def explain(self, request: Request) -> Response:
        return await self._verb(request, explain=True)

    async def _verb(self, request: Request, *, explain: bool) -> Response:
        name = request.path_params["name"]

        async def work() -> Encoded:
            body = await read_body(request, self.settings.max_body_bytes)
            payload = decode_body(body, request.headers.get("content-type"))
            if explain:
                return encode_v1(await self.dataplane.explain(name, payload, request.headers))
            return encode_v1(await self.dataplane.infer(name, payload, request.headers))

        return await handle(
            request,
            dataplane=self.dataplane,
            settings=self.settings,
            protocol="v1",
            model=name,
            work=work,
        )
