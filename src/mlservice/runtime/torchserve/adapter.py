"""KServe's protocols in front of a running TorchServe: the role of KServe's TorchServe wrapper.

- V1 `POST /v1/models/{m}:predict`: each of `instances` becomes one `POST /predictions/{m}`
  (a string such as `{"data": "<base64>"}`'s is sent as text, anything else as JSON, so the
  handler sees what TorchServe's KServe envelope would give it); the answers, in order, are
  `{"predictions": [...]}`. A body that is not a JSON object with `instances` (the reference's
  `curl -T 0.png`) is sent as it is, its one answer in `predictions`.
- V2 `POST /v2/models/{m}/infer`: each input is one call, as TorchServe's `kservev2` envelope
  makes each input one row: a BYTES input sends its first element (text as text), any other
  its `data` shaped by `shape`, as JSON. Each answer is one output named as its input,
  flattened (numbers as INT64/FP64, text as BYTES, anything else BYTES of compact JSON text),
  as `mls serve` answers for a TorchServe model (docs/torchserve.md, "Protocols").
- TorchServe's own `/predictions/{m}[/{v}]`, `/ping` and `/models` pass through.
- Health: live once the adapter runs; ready once every model TorchServe lists has a READY
  worker (the replica's readiness probe asks `/v2/health/ready`).

Every call carries TorchServe's token (read from the `key_file.json` TorchServe writes in its
working folder); errors keep TorchServe's status and message.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KEY_FILE = "key_file.json"


class UpstreamError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class TorchServe:
    """The TorchServe behind the adapter: its inference and management URLs and its keys."""

    inference: str
    management: str
    key_file: Path
    alias: str | None = None
    alias_target: str | None = None
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=None))
    _keys: dict[str, str] = field(default_factory=dict)

    def key(self, api: str) -> str:
        if api not in self._keys:
            data = json.loads(self.key_file.read_text())
            self._keys = {name: str(entry["key"]) for name, entry in data.items()}
        return self._keys[api]

    def headers(self, api: str) -> dict[str, str]:
        try:
            return {"Authorization": f"Bearer {self.key(api)}"}
        except (OSError, ValueError, KeyError):
            return {}  # not written yet: TorchServe is still starting, and will say so

    def model(self, name: str) -> str:
        """TorchServe's name for `name`: itself, or the one model for the alias (`--name`)."""
        if name == self.alias and self.alias_target is not None:
            return self.alias_target
        return name

    async def models(self) -> list[str]:
        response = await self.client.get(
            f"{self.management}/models", headers=self.headers("management")
        )
        _raise_for(response)
        return [m["modelName"] for m in response.json().get("models", [])]

    async def ready(self, name: str | None = None) -> bool:
        try:
            names = [self.model(name)] if name else await self.models()
            if not names:
                return False
            for one in names:
                response = await self.client.get(
                    f"{self.management}/models/{one}", headers=self.headers("management")
                )
                if response.status_code != 200:
                    return False
                workers = [w for entry in response.json() for w in entry.get("workers", [])]
                if not any(w.get("status") == "READY" for w in workers):
                    return False
            if self.alias and self.alias_target is None and name is None and len(names) == 1:
                self.alias_target = names[0]
            return True
        except (httpx.HTTPError, UpstreamError, ValueError):
            return False

    async def predict(self, model: str, body: bytes, content_type: str) -> Any:
        """One TorchServe call; its answer (JSON decoded when it is JSON)."""
        try:
            response = await self.client.post(
                f"{self.inference}/predictions/{self.model(model)}",
                content=body,
                headers={**self.headers("inference"), "Content-Type": content_type},
            )
        except httpx.HTTPError as err:
            raise UpstreamError(503, f"TorchServe is not answering: {err}") from None
        _raise_for(response)
        # TorchServe sends a handler's dict or list as JSON text, whatever its content type.
        try:
            return json.loads(response.content)
        except ValueError:
            return response.text


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = str(response.json().get("message", response.text))
    except ValueError:
        message = response.text
    raise UpstreamError(response.status_code, message)


def instance_body(instance: Any) -> tuple[bytes, str]:
    """What one V1 instance (or V2 input, `v2_input`) sends TorchServe: a `data`/`body`
    string as text (base64 stays text, as in TorchServe's KServe envelope), anything else as
    JSON."""
    if isinstance(instance, dict) and len(instance) == 1:
        (only,) = instance.values()
        if next(iter(instance)) in ("data", "body") and isinstance(only, str):
            return only.encode(), "text/plain; charset=utf-8"
    if isinstance(instance, str):
        return instance.encode(), "text/plain; charset=utf-8"
    return json.dumps(instance).encode(), "application/json"


async def predict_all(ts: TorchServe, model: str, items: Sequence[Any]) -> list[Any]:
    """One call per item, all at once (TorchServe batches them by its `batchSize`)."""
    calls = [ts.predict(model, *instance_body(item)) for item in items]
    return list(await asyncio.gather(*calls))


def v2_input(tensor: Mapping[str, Any]) -> Any:
    """What one V2 input sends TorchServe, as TorchServe's `kservev2` envelope reads an input:
    BYTES, its first element (the others are not read); else its data shaped by `shape`."""
    data = tensor["data"]
    if tensor.get("datatype") == "BYTES":
        return data[0] if isinstance(data, list) and data else data
    shape = [int(n) for n in tensor.get("shape") or []]
    flat = list(_flat(data))
    if len(shape) <= 1 or math.prod(shape) != len(flat):
        return data
    for size in reversed(shape[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def v2_output(answer: Any, *, name: str) -> dict[str, Any]:
    """One answer as the output of the input it came from, flattened, as `mls serve` builds it:
    numbers as INT64/FP64, text as BYTES, anything else (objects) BYTES of compact JSON."""
    if isinstance(answer, str):
        return {"name": name, "datatype": "BYTES", "shape": [1], "data": [answer]}
    values = list(_flat(answer))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        datatype = "INT64" if all(isinstance(v, int) for v in values) else "FP64"
        return {"name": name, "datatype": datatype, "shape": [len(values)], "data": values}
    text = json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
    return {"name": name, "datatype": "BYTES", "shape": [1], "data": [text]}


def _flat(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flat(item)
    else:
        yield value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def app(ts: TorchServe) -> Starlette:
    async def v1_predict(request: Request) -> Response:
        model = request.path_params["model"]
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        try:
            if isinstance(parsed, dict) and isinstance(parsed.get("instances"), list):
                answers = await predict_all(ts, model, parsed["instances"])
            else:
                kind = request.headers.get("content-type", "application/octet-stream")
                answers = [await ts.predict(model, body, kind)]
        except UpstreamError as err:
            return _error(err.status, err.message)
        return JSONResponse({"predictions": answers})

    async def v2_infer(request: Request) -> Response:
        model = request.path_params["model"]
        try:
            payload = json.loads(await request.body())
            inputs = payload["inputs"]
            items = [v2_input(tensor) for tensor in inputs]
            names = [str(tensor["name"]) for tensor in inputs]
        except (ValueError, KeyError, IndexError, TypeError):
            items = []
        if not items:
            return _error(400, "expected a V2 body with inputs, each with a name and data")
        try:
            answers = await predict_all(ts, model, items)
        except UpstreamError as err:
            return _error(err.status, err.message)
        outputs = [v2_output(a, name=n) for a, n in zip(answers, names, strict=True)]
        out = {"model_name": model, "outputs": outputs}
        if "id" in payload:
            out["id"] = payload["id"]
        return JSONResponse(out)

    async def passthrough(request: Request) -> Response:
        path = request.url.path
        api, base = (
            ("management", ts.management) if path == "/models" else ("inference", ts.inference)
        )
        headers = dict(ts.headers(api))
        if "content-type" in request.headers:
            headers["Content-Type"] = request.headers["content-type"]
        try:
            response = await ts.client.request(
                request.method,
                base + path,
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError as err:
            return _error(503, f"TorchServe is not answering: {err}")
        kind = response.headers.get("content-type", "application/json")
        return Response(response.content, status_code=response.status_code, media_type=kind)

    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        ok = await ts.ready()
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    async def v1_models(request: Request) -> Response:
        try:
            names = await ts.models()
        except (httpx.HTTPError, UpstreamError):
            names = []
        return JSONResponse({"models": names})

    async def model_ready(request: Request) -> Response:
        name = request.path_params["model"]
        ok = await ts.ready(name)
        return JSONResponse({"name": name, "ready": ok}, status_code=200 if ok else 503)

    routes = [
        Route("/v1/models", v1_models, methods=["GET"]),
        Route("/v1/models/{model}:predict", v1_predict, methods=["POST", "PUT"]),
        Route("/v1/models/{model}", model_ready, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{model}/infer", v2_infer, methods=["POST"]),
        Route("/v2/models/{model}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{model}", model_ready, methods=["GET"]),
        Route("/predictions/{model}", passthrough, methods=["POST", "PUT"]),
        Route("/predictions/{model}/{version}", passthrough, methods=["POST", "PUT"]),
        Route("/ping", passthrough, methods=["GET"]),
        Route("/models", passthrough, methods=["GET"]),
    ]
    return Starlette(routes=routes)
