"""Request bodies to model payloads, and model results to response bodies.

A body that is not JSON (an image sent with `curl -T`) reaches the model as raw bytes; the
model sees its content type in the headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlservice.errors import InvalidInput
from mlservice.server.codecs import v2
from mlservice.server.types import InferRequest, InferResponse, ResponseOutput

# curl -d sends form-urlencoded and many clients send text/plain for JSON, so those are tried
# as JSON; anything else explicit (image/png, application/octet-stream) is the model's business.
_JSON_LIKE = ("json", "application/x-www-form-urlencoded", "text/plain")
JSON = "application/json"
OCTET = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Encoded:
    """A response body ready for the wire."""

    body: bytes
    content_type: str = JSON
    header_length: int | None = None


def decode_body(body: bytes, content_type: str | None) -> Any:
    """A V1 (or any non-V2) payload: the parsed JSON document, or the raw bytes."""
    if content_type and not any(kind in content_type for kind in _JSON_LIKE):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if _looks_like_json(body, content_type):
            raise InvalidInput(f"The request body is not valid JSON: {exc}.") from exc
        return body


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type:
        return True
    head = body.lstrip()[:1]
    return head in (b"{", b"[", b"")


def decode_v2(body: bytes, *, content_type: str | None, header_length: str | None) -> Any:
    """A V2 infer payload: an InferRequest, or raw bytes for a custom model."""
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError as exc:
            raise InvalidInput(
                f"Inference-Header-Content-Length {header_length!r} is not an integer."
            ) from exc
        return v2.decode_request(body, header_length=length)
    doc = decode_body(body, content_type)
    if isinstance(doc, bytes):
        return doc
    return v2.request_from_dict(doc, binary=None)


def _default(value: Any) -> Any:
    """orjson hook for what it cannot serialize natively (object arrays, numpy scalars)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=v2.JSON_OPTIONS)


def encode_v1(result: Any) -> Encoded:
    """A V1 answer: dicts pass as they are, arrays and lists become `predictions`."""
    if isinstance(result, InferResponse):
        return encode_v2(result, None)
    if isinstance(result, bytes | bytearray):
        return Encoded(bytes(result), OCTET)
    if isinstance(result, dict):
        return Encoded(dumps(result))
    return Encoded(dumps({"predictions": result}))


def encode_v2(result: Any, request: InferRequest | None, *, model_name: str = "") -> Encoded:
    if isinstance(result, bytes | bytearray):
        return Encoded(bytes(result), OCTET)
    if isinstance(result, dict):
        return Encoded(dumps(result))
    if not isinstance(result, InferResponse):
        result = InferResponse([ResponseOutput("output-0", np.asarray(result))])
    if not result.model_name:
        result.model_name = model_name
    if request is not None and result.id is None:
        result.id = request.id
    body, header_length = v2.encode_response(result, request)
    return Encoded(body, OCTET if header_length is not None else JSON, header_length)
