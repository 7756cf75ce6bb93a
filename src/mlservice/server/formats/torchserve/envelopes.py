"""TorchServe's request shape under each protocol, and each answer back in its envelope.

A handler sees a batch: a list of rows, one per request, each a dict (`{"body": ...}` or
`{"data": ...}`). Here every protocol becomes rows, as KServe's TorchServe envelopes make them:

- V1 `{"instances": [...]}`: each instance is a row (a non-dict instance becomes
  `{"data": instance}`); the answers are `{"predictions": [...]}`, one per instance.
- V1 with any other body (raw bytes from `curl -T`, or JSON without `instances`): one row
  `{"body": ...}`, answered as `{"predictions": [answer]}`.
- V2 infer: each input tensor is a row `{"name", "shape", "datatype", "data"}` (BYTES: its first
  element, text when it is UTF-8, as KServe's v2 envelope passes JSON strings); each answer is
  an output named after its input, flattened.
- TorchServe's `/predictions/{model}`: the body is one row `{"body": ...}` (JSON parsed, text
  decoded, anything else bytes), and the one answer is the response body.

Rows travel as `Row`s that keep their request's headers and protocol, so requests from any
protocol can share one batched handler call and each answer goes back in its own envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlservice.errors import (
    InferenceError,
    InvalidInput,
    MLServiceError,
    NotFound,
    NotImplementedByModel,
    PayloadTooLarge,
    Unavailable,
)
from mlservice.server.types import InferRequest, InferResponse, RequestInput, ResponseOutput

V1, V2, TS = "v1", "v2", "torchserve"


@dataclass(frozen=True, slots=True)
class Call:
    """A request on TorchServe's inference API: its rows (one, or one per form field)."""

    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Row:
    data: dict[str, Any]
    headers: Mapping[str, str]
    protocol: str
    name: str = ""  # the V2 input it came from


@dataclass(slots=True)
class Answer:
    value: Any
    row: Row
    status: int = 200
    phrase: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def rows_of(payload: Any, headers: Mapping[str, str], *, model: str) -> list[Row]:
    headers = dict(headers)
    if isinstance(payload, Call):
        return [Row(data, headers, TS) for data in payload.rows]
    if isinstance(payload, InferRequest):
        return [_v2_row(tensor, headers) for tensor in payload.inputs]
    if isinstance(payload, dict) and "instances" in payload:
        instances = payload["instances"]
        if not isinstance(instances, list) or not instances:
            raise InvalidInput(
                f'The V1 request for model {model} needs "instances", a non-empty list.'
            )
        return [Row(i if isinstance(i, dict) else {"data": i}, headers, V1) for i in instances]
    return [Row({"body": payload}, headers, V1)]


def _v2_row(tensor: RequestInput, headers: dict[str, str]) -> Row:
    data = _tensor(tensor.data, tensor.datatype)
    fields = {"name": tensor.name, "shape": tensor.shape, "datatype": tensor.datatype}
    return Row({**fields, "data": data}, headers, V2, tensor.name)


def _tensor(data: Any, datatype: str) -> Any:
    if datatype != "BYTES":
        return data.tolist()
    first = data.reshape(-1)[0] if data.size else b""
    if isinstance(first, bytes):
        try:
            return first.decode("utf-8")
        except UnicodeDecodeError:
            return first
    return first


def respond(answers: list[Answer], *, model: str, version: str | None) -> Any:
    """One request's answers in the envelope it came in (an `Answer` for TorchServe's API)."""
    protocol = answers[0].row.protocol
    if protocol == TS:
        return answers[0]
    failed = next((a for a in answers if a.status >= 400), None)
    if failed is not None:
        raise status_error(failed.status, failed.phrase or _text(failed.value), model=model)
    if protocol == V1:
        return {"predictions": [plain(a.value) for a in answers]}
    outputs = [_output(a.row.name, a.value) for a in answers]
    return InferResponse(outputs, model_name=model, model_version=version)


def plain(value: Any) -> Any:
    """A handler's answer as JSON-able data: tensors and arrays become lists."""
    if hasattr(value, "tolist") and not isinstance(value, bytes | bytearray | str):
        return value.tolist()
    return value


def _output(name: str, value: Any) -> ResponseOutput:
    value = plain(value)
    if isinstance(value, bytes | bytearray | str) or _has_objects(value):
        import orjson

        item = value if isinstance(value, bytes | bytearray | str) else orjson.dumps(value)
        data = np.empty(1, dtype=np.object_)
        data[0] = item.encode() if isinstance(item, str) else bytes(item)
        return ResponseOutput(name, data, "BYTES", [1])
    array = np.asarray(value).reshape(-1)
    return ResponseOutput(name, array, shape=[int(array.size)])


def _has_objects(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    if isinstance(value, list):
        return any(_has_objects(v) or isinstance(v, str | bytes) for v in value)
    return False


def _text(value: Any) -> str:
    value = plain(value)
    if isinstance(value, bytes | bytearray):
        return value.decode(errors="replace")
    return str(value)


# A status a handler may choose, to the error class that names it best.
_BY_STATUS: dict[int, type[MLServiceError]] = {
    404: NotFound,
    413: PayloadTooLarge,
    501: NotImplementedByModel,
    503: Unavailable,
}


def status_error(status: int, message: str, *, model: str) -> MLServiceError:
    """The error answering a status a handler chose: the nearest class of the error tree,
    carrying the exact status (a 422 stays 422)."""
    cls = _BY_STATUS.get(status) or (InvalidInput if 400 <= status < 500 else InferenceError)
    error = cls(f"Model {model}: {message}")
    if 400 <= status < 600:
        error.status_code = status
    return error
