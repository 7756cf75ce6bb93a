"""TorchServe's inference API on the server's port, for TorchServe clients.

`POST|PUT /predictions/{model}[/{version}]` (the body is the handler's one row, `{"body": ...}`,
or with `multipart/form-data` (`curl -F data=@kitten.jpg`) one entry per field; the handler's
answer is the response body, with the status and headers the handler set on its context),
`GET /ping` (`{"status": "Healthy"}`), and `GET /models[/{model}]` answered as TorchServe's
management API lists and describes models. Errors use TorchServe's shape:
`{"code": ..., "type": ..., "message": ...}`. Registered only when a TorchServe archive is
served.
"""

from __future__ import annotations

import logging
import time
from email import policy
from email.parser import BytesParser
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from mlservice.errors import InvalidInput, MLServiceError
from mlservice.server import context
from mlservice.server.dataplane import DataPlane
from mlservice.server.formats.torchserve.envelopes import Answer, Call, plain
from mlservice.server.formats.torchserve.model import TorchServeModel
from mlservice.server.rest.body import read_body
from mlservice.server.rest.handler import CLIENT_CLOSED, RestSettings

log = logging.getLogger("mlservice.server")
PROTOCOL = "torchserve"


def serves_archives(dataplane: DataPlane) -> bool:
    return any(isinstance(dataplane.model(n), TorchServeModel) for n in dataplane.model_names)


class TorchServeApi:
    def __init__(self, dataplane: DataPlane, settings: RestSettings) -> None:
        self.dataplane = dataplane
        self.settings = settings

    def routes(self) -> list[Route]:
        return [
            Route("/predictions/{name}", self.predict, methods=["POST", "PUT"]),
            Route("/predictions/{name}/{version}", self.predict, methods=["POST", "PUT"]),
            Route("/ping", self.ping, methods=["GET"]),
            Route("/models", self.list_models, methods=["GET"]),
            Route("/models/{name}", self.describe, methods=["GET"]),
        ]

    async def ping(self, request: Request) -> Response:
        healthy = self.dataplane.ready()
        return _json({"status": "Healthy" if healthy else "Unhealthy"}, 200 if healthy else 500)

    async def list_models(self, request: Request) -> Response:
        models = [
            {"modelName": name, "modelUrl": _url(self.dataplane.model(name))}
            for name in self.dataplane.model_names
        ]
        return _json({"models": models})

    async def describe(self, request: Request) -> Response:
        try:
            model = self.dataplane.model(request.path_params["name"])
        except MLServiceError as exc:
            return _error(exc)
        return _json([_description(model)])

    async def predict(self, request: Request) -> Response:
        name = request.path_params["name"]
        version = request.path_params.get("version")
        started = time.perf_counter()
        token = context.current.set(context.RequestContext(request.url.path, PROTOCOL))
        try:
            body = await read_body(request, self.settings.max_body_bytes)
            row = _row(body, request.headers.get("content-type", ""))
            answer = await self.dataplane.infer(name, Call([row]), request.headers, version=version)
            response = _answer(answer)
        except MLServiceError as exc:
            response = _error(exc)
        except ClientDisconnect:
            response = Response(status_code=CLIENT_CLOSED)
        except Exception as exc:
            log.exception("internal error serving model %s", name)
            response = _json({"code": 500, "type": type(exc).__name__, "message": f"{exc}"}, 500)
        finally:
            context.current.reset(token)
        label = name if self.dataplane.serves(name) else "<unknown>"
        self.dataplane.metrics.observe_request(
            label, PROTOCOL, response.status_code, time.perf_counter() - started
        )
        return response


def _row(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.split(";", 1)[0].strip().lower() == "multipart/form-data":
        return _form(body, content_type)
    return {"body": _decode(body, content_type)}


def _form(body: bytes, content_type: str) -> dict[str, Any]:
    """Each field of a multipart form by name: files as bytes, other fields decoded as the
    worker decodes a body of their content type (text when they have none)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidInput("The multipart/form-data body has no parts.")
    row: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise InvalidInput("A part of the multipart/form-data body has no field name.")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        kind = part.get("content-type")
        if part.get_filename() is not None:
            row[name] = data if kind is None else _decode(data, str(kind))
        else:
            row[name] = _decode(data, str(kind or "text/plain"))
    return row


def _decode(body: bytes, content_type: str) -> Any:
    """As TorchServe's worker decodes a body: JSON parsed, text as str, the rest as bytes."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
    if kind.startswith("text"):
        return body.decode("utf-8", errors="replace")
    return body


def _answer(answer: Any) -> Response:
    if not isinstance(answer, Answer):  # a model of another format behind this API
        return Response(orjson.dumps(plain(answer)), media_type="application/json")
    headers = dict(answer.headers)
    media_type = headers.pop("content-type", None)
    value = plain(answer.value)
    if isinstance(value, bytes | bytearray):
        body = bytes(value)
        media_type = media_type or "application/octet-stream"
    elif isinstance(value, str):
        body = value.encode()
        media_type = media_type or "text/plain"
    else:
        body = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        media_type = media_type or "application/json"
    return Response(body, status_code=answer.status, headers=headers, media_type=media_type)


_TYPES = {404: "ModelNotFoundException", 413: "RequestTooLarge", 503: "ServiceUnavailableException"}


def _error(exc: MLServiceError) -> Response:
    code = exc.status_code
    kind = _TYPES.get(code, "BadRequestException" if code < 500 else "InternalServerException")
    return _json({"code": code, "type": kind, "message": exc.message}, code)


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def _url(model: Any) -> str:
    return model.archive.name if isinstance(model, TorchServeModel) else model.name


def _description(model: Any) -> dict[str, Any]:
    settings = model.settings if isinstance(model, TorchServeModel) else None
    return {
        "modelName": model.name,
        "modelVersion": model.version or "1.0",
        "modelUrl": _url(model),
        "runtime": "python",
        "minWorkers": settings.min_workers if settings else 1,
        "maxWorkers": settings.min_workers if settings else 1,
        "batchSize": settings.batch_size if settings else 1,
        "maxBatchDelay": settings.max_batch_delay_ms if settings else 100,
        "responseTimeout": settings.response_timeout if settings else 120,
        "loadedAtStartup": True,
        "workers": [{"id": "1", "status": "READY" if model.ready else "UNLOADING"}],
    }
