"""V2 (Open Inference Protocol) REST bodies <-> InferRequest / InferResponse.

Covers JSON tensors and the binary tensor extension as Triton's clients speak it: a JSON header
of `Inference-Header-Content-Length` bytes followed by raw tensors in input order, each sized by
its `parameters.binary_data_size`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from mlservice.errors import InvalidInput
from mlservice.server.codecs.datatypes import (
    datatype_of,
    deserialize_bytes,
    dtype_of,
    from_json_data,
    reshape,
    serialize_bytes,
    to_json_data,
)
from mlservice.server.types import (
    InferRequest,
    InferResponse,
    NDArray,
    RequestedOutput,
    RequestInput,
    ResponseOutput,
    as_array,
)

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def parse_json(raw: bytes | memoryview, *, what: str = "request body") -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The {what} is not valid JSON: {exc}.") from exc


def decode_request(body: bytes, *, header_length: int | None = None) -> InferRequest:
    """Parse a V2 infer body; `header_length` is the Inference-Header-Content-Length, if sent."""
    if header_length is None:
        return request_from_dict(parse_json(body), binary=None)
    if not 0 <= header_length <= len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length {header_length} is outside the body of "
            f"{len(body)} bytes."
        )
    view = memoryview(body)
    doc = parse_json(view[:header_length], what="inference header")
    return request_from_dict(doc, binary=view[header_length:])


def request_from_dict(doc: Any, *, binary: memoryview | None) -> InferRequest:
    if not isinstance(doc, dict):
        raise InvalidInput("The V2 request body must be a JSON object.")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput('The V2 request needs "inputs", a non-empty list.')
    reader = _BinaryReader(binary)
    inputs = [_decode_input(item, index=i, reader=reader) for i, item in enumerate(raw_inputs)]
    reader.finish()
    request_id = doc.get("id")
    return InferRequest(
        inputs=inputs,
        id=None if request_id is None else str(request_id),
        parameters=_parameters(doc, where="request"),
        outputs=_requested_outputs(doc.get("outputs")),
    )


def _decode_input(item: Any, *, index: int, reader: _BinaryReader) -> RequestInput:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise InvalidInput(f"inputs[{index}] must be an object with a string name.")
    name: str = item["name"]
    datatype = item.get("datatype")
    if not isinstance(datatype, str):
        raise InvalidInput(f"input {name!r} needs a datatype.")
    shape = _shape(item.get("shape"), tensor=name)
    parameters = _parameters(item, where=f"input {name!r}")
    size = parameters.get("binary_data_size")
    if size is not None:
        array = reader.take(size, datatype=datatype, tensor=name)
    elif "data" in item:
        array = from_json_data(item["data"], datatype=datatype, tensor=name)
    else:
        raise InvalidInput(f"input {name!r} has neither data nor binary_data_size.")
    return RequestInput(name, datatype, shape, reshape(array, shape, tensor=name), parameters)


def _shape(value: Any, *, tensor: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise InvalidInput(f"input {tensor!r} shape must be a list of non-negative integers.")
    return value


def _parameters(doc: dict[str, Any], *, where: str) -> dict[str, Any]:
    value = doc.get("parameters")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"The {where} parameters must be a JSON object.")
    return value


def _requested_outputs(value: Any) -> list[RequestedOutput] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput('The V2 request "outputs" must be a list.')
    outputs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"outputs[{i}] must be an object with a string name.")
        outputs.append(RequestedOutput(item["name"], _parameters(item, where=f"outputs[{i}]")))
    return outputs


class _BinaryReader:
    """Hands out consecutive slices of the binary part, in input order."""

    def __init__(self, binary: memoryview | None) -> None:
        self._binary = binary
        self._offset = 0

    def take(self, size: Any, *, datatype: str, tensor: str) -> NDArray:
        if self._binary is None:
            raise InvalidInput(
                f"input {tensor!r} has binary_data_size but the request carries no binary data."
            )
        if not isinstance(size, int) or size < 0 or self._offset + size > len(self._binary):
            raise InvalidInput(f"input {tensor!r} binary_data_size {size} overruns the body.")
        chunk = self._binary[self._offset : self._offset + size]
        self._offset += size
        if datatype == "BYTES":
            return deserialize_bytes(chunk, tensor=tensor)
        dtype = dtype_of(datatype, tensor=tensor)
        if size % dtype.itemsize:
            raise InvalidInput(
                f"input {tensor!r} binary_data_size {size} is not a multiple of the "
                f"{datatype} element size {dtype.itemsize}."
            )
        return np.frombuffer(chunk, dtype=dtype)

    def finish(self) -> None:
        if self._binary is not None and self._offset != len(self._binary):
            raise InvalidInput(
                f"The request has {len(self._binary) - self._offset} bytes of binary data "
                "that no input claims."
            )


def encode_response(
    response: InferResponse, request: InferRequest | None
) -> tuple[bytes, int | None]:
    """Body bytes, and the JSON header length when any output travels as binary."""
    wanted = _wanted_outputs(response, request)
    default_binary = bool(request and request.parameters.get("binary_data_output"))
    blobs: list[bytes] = []
    outputs = []
    for output, requested in wanted:
        binary = default_binary
        if requested is not None and "binary_data" in requested.parameters:
            binary = bool(requested.parameters["binary_data"])
        outputs.append(_encode_output(output, binary=binary, blobs=blobs))
    doc: dict[str, Any] = {"model_name": response.model_name, "outputs": outputs}
    if response.model_version is not None:
        doc["model_version"] = response.model_version
    if response.id is not None:
        doc["id"] = response.id
    if response.parameters:
        doc["parameters"] = response.parameters
    header = orjson.dumps(doc, option=JSON_OPTIONS)
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)


def _wanted_outputs(
    response: InferResponse, request: InferRequest | None
) -> list[tuple[ResponseOutput, RequestedOutput | None]]:
    if request is None or request.outputs is None:
        return [(output, None) for output in response.outputs]
    wanted: list[tuple[ResponseOutput, RequestedOutput | None]] = []
    for requested in request.outputs:
        output = response.output(requested.name)
        if output is None:
            names = ", ".join(o.name for o in response.outputs)
            raise InvalidInput(
                f"output {requested.name!r} is not produced by model "
                f"{response.model_name!r} (outputs: {names})."
            )
        wanted.append((output, requested))
    return wanted


def _encode_output(output: ResponseOutput, *, binary: bool, blobs: list[bytes]) -> dict[str, Any]:
    array = as_array(output.data)
    datatype = output.datatype or datatype_of(array)
    doc: dict[str, Any] = {
        "name": output.name,
        "datatype": datatype,
        "shape": output.shape or list(array.shape),
    }
    parameters = dict(output.parameters)
    if binary:
        blob = serialize_bytes(array) if datatype == "BYTES" else _raw(array, datatype)
        blobs.append(blob)
        parameters["binary_data_size"] = len(blob)
    else:
        doc["data"] = to_json_data(array, datatype=datatype, tensor=output.name)
    if parameters:
        doc["parameters"] = parameters
    return doc


def _raw(array: NDArray, datatype: str) -> bytes:
    dtype = dtype_of(datatype, tensor="output")
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def response_from_dict(doc: Any, *, binary: memoryview | None = None) -> InferResponse:
    """Decode a V2 response (e.g. a predictor's answer to a transformer)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), list):
        raise InvalidInput('The V2 response needs "outputs", a list.')
    reader = _BinaryReader(binary)
    outputs = []
    for i, item in enumerate(doc["outputs"]):
        tensor = _decode_input(item, index=i, reader=reader)
        outputs.append(ResponseOutput(tensor.name, tensor.data, tensor.datatype, tensor.shape, {}))
    return InferResponse(
        outputs=outputs,
        model_name=str(doc.get("model_name", "")),
        model_version=doc.get("model_version"),
        id=doc.get("id"),
        parameters=doc.get("parameters") or {},
    )


def request_to_dict(request: InferRequest) -> dict[str, Any]:
    """A JSON-ready V2 request (numeric data stays numpy; dump with JSON_OPTIONS)."""
    doc: dict[str, Any] = {
        "inputs": [
            {
                "name": tensor.name,
                "datatype": tensor.datatype,
                "shape": tensor.shape,
                "data": to_json_data(tensor.data, datatype=tensor.datatype, tensor=tensor.name),
                **({"parameters": _strip_binary(tensor.parameters)} if tensor.parameters else {}),
            }
            for tensor in request.inputs
        ]
    }
    if request.id is not None:
        doc["id"] = request.id
    if request.parameters:
        doc["parameters"] = request.parameters
    if request.outputs is not None:
        doc["outputs"] = [{"name": o.name, "parameters": o.parameters} for o in request.outputs]
    return doc


def _strip_binary(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parameters.items() if k != "binary_data_size"}
