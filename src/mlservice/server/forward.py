"""Transformer mode: hand a (preprocessed) payload to the predictor and decode its answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from mlservice.errors import (
    InferenceError,
    InvalidInput,
    MLServiceError,
    NotFound,
    NotImplementedByModel,
    PayloadTooLarge,
    Unavailable,
)
from mlservice.server import context
from mlservice.server.codecs import v2
from mlservice.server.codecs.payload import JSON, dumps
from mlservice.server.types import InferRequest

# Tracing and request-id headers the predictor must see to stitch the call into one trace.
PASSED_HEADERS = (
    "traceparent",
    "tracestate",
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
)
RELEASE_HEADER = "x-mls-release"
_ERRORS: dict[int, type[MLServiceError]] = {
    400: InvalidInput,
    404: NotFound,
    413: PayloadTooLarge,
    501: NotImplementedByModel,
    503: Unavailable,
}


@dataclass(frozen=True, slots=True)
class PredictorConfig:
    host: str
    protocol: str | None = None  # None: the protocol of the request being served
    host_header: str | None = None
    timeout_seconds: float = 300.0


class Forwarder:
    """One pooled HTTP client per predictor, created on first use inside the serving loop."""

    def __init__(self, config: PredictorConfig) -> None:
        self.config = config
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            host = self.config.host
            base = host if "://" in host else f"http://{host}"
            self._client = httpx.AsyncClient(
                base_url=base,
                timeout=httpx.Timeout(self.config.timeout_seconds, connect=10.0),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, payload: Any, headers: Mapping[str, str], *, model: str, verb: str) -> Any:
        """POST `payload` to the predictor's `verb` endpoint for `model`; decode its answer."""
        content, content_type = _body(payload, headers)
        protocol = self.config.protocol or ("v2" if isinstance(payload, InferRequest) else "v1")
        out_headers = {"content-type": content_type}
        for name in PASSED_HEADERS:
            value = headers.get(name)
            if value is not None:
                out_headers[name] = value
        if self.config.host_header:
            out_headers["host"] = self.config.host_header
        path = _path(protocol, model=model, verb=verb)
        try:
            answer = await self._http().post(path, content=content, headers=out_headers)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"Predictor {self.config.host} is unreachable: {type(exc).__name__} {exc}."
            ) from exc
        release = answer.headers.get(RELEASE_HEADER)
        ctx = context.current.get()
        if release is not None and ctx is not None:
            ctx.response_headers[RELEASE_HEADER] = release
        return self._decode(answer, protocol=protocol)

    def _decode(self, answer: httpx.Response, *, protocol: str) -> Any:
        if answer.status_code >= 400:
            raise _error(answer, host=self.config.host)
        header_length = answer.headers.get("inference-header-content-length")
        if header_length is not None:
            view = memoryview(answer.content)
            length = int(header_length)
            doc = v2.parse_json(view[:length], what="predictor answer")
            return v2.response_from_dict(doc, binary=view[length:])
        if "json" not in answer.headers.get("content-type", JSON):
            return answer.content
        doc = v2.parse_json(answer.content, what="predictor answer")
        if protocol == "v2" and isinstance(doc, dict) and "outputs" in doc:
            return v2.response_from_dict(doc)
        return doc


def _path(protocol: str, *, model: str, verb: str) -> str:
    """The path the transformer was called on, when protocols match; else the protocol's own."""
    ctx = context.current.get()
    if ctx is not None and ctx.protocol == protocol:
        return ctx.path
    if protocol == "v2":
        return f"/v2/models/{model}/infer"
    return f"/v1/models/{model}:{verb}"


def _body(payload: Any, headers: Mapping[str, str]) -> tuple[bytes, str]:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload), headers.get("content-type", "application/octet-stream")
    if isinstance(payload, InferRequest):
        return dumps(v2.request_to_dict(payload)), JSON
    return dumps(payload), JSON


def _error(answer: httpx.Response, *, host: str) -> MLServiceError:
    try:
        message = orjson.loads(answer.content).get("error") or answer.text
    except (orjson.JSONDecodeError, AttributeError):
        message = answer.text
    cls = _ERRORS.get(answer.status_code, InferenceError)
    return cls(f"Predictor {host} answered {answer.status_code}: {message}")
