"""ModelInfer messages <-> the data plane's InferRequest / InferResponse.

A request carries its tensors either all raw (`raw_input_contents`, one entry per input) or
all typed (`contents`); the answer comes back raw when the request was raw, as Triton does and
tritonclient expects, and typed otherwise, unless an output is FP16, which only travels raw
(and the spec allows no mix, so then every output does).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np
import orjson

from mlservice.errors import InferenceError, InvalidInput
from mlservice.server.codecs import v2
from mlservice.server.codecs.datatypes import datatype_of, reshape
from mlservice.server.grpc import tensors
from mlservice.server.grpc.generated import inference_pb2 as pb
from mlservice.server.types import (
    InferRequest,
    InferResponse,
    NDArray,
    RequestedOutput,
    RequestInput,
    ResponseOutput,
    as_array,
)

_INT64 = (-(1 << 63), (1 << 63) - 1)


def decode_request(message: pb.ModelInferRequest) -> InferRequest:
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise InvalidInput(
            f"The request has {len(raw)} raw_input_contents for {len(message.inputs)} inputs; "
            "send one per input, or none."
        )
    if not message.inputs:
        raise InvalidInput("The ModelInfer request needs inputs, a non-empty list.")
    inputs = [
        _decode_input(tensor, raw[i] if raw else None) for i, tensor in enumerate(message.inputs)
    ]
    outputs = None
    if message.outputs:
        outputs = [RequestedOutput(o.name, parameters(o.parameters)) for o in message.outputs]
    return InferRequest(
        inputs=inputs,
        id=message.id or None,
        parameters=parameters(message.parameters),
        outputs=outputs,
        model_name=message.model_name,
    )


def _decode_input(tensor: pb.ModelInferRequest.InferInputTensor, raw: bytes | None) -> RequestInput:
    name, datatype = tensor.name, tensor.datatype
    if not datatype:
        raise InvalidInput(f"input {name!r} needs a datatype.")
    shape = list(tensor.shape)
    if any(d < 0 for d in shape):
        raise InvalidInput(f"input {name!r} shape must be a list of non-negative integers.")
    if raw is not None:
        if tensor.HasField("contents"):
            raise InvalidInput(
                f"input {name!r} has contents, but the request also uses raw_input_contents."
            )
        data = tensors.from_raw(raw, datatype=datatype, tensor=name)
    else:
        data = _from_typed(tensor.contents, datatype=datatype, tensor=name)
    data = reshape(data, shape, tensor=name)
    return RequestInput(name, datatype, shape, data, parameters(tensor.parameters))


def _from_typed(contents: pb.InferTensorContents, *, datatype: str, tensor: str) -> NDArray:
    field = tensors.contents_field(datatype, tensor=tensor)
    values = getattr(contents, field)
    if not values:
        misplaced = [f.name for f, _ in contents.ListFields() if f.name != field]
        if misplaced:
            raise InvalidInput(
                f"input {tensor!r} is {datatype}, so its data belongs in {field}, "
                f"not {misplaced[0]}."
            )
    return tensors.from_contents(values, datatype=datatype, tensor=tensor)


def as_response(result: Any, request: InferRequest) -> InferResponse:
    """What a model returned, as an InferResponse named after the model and the request."""
    response = _tensors_of(result, model=request.model_name)
    if not response.model_name:
        response.model_name = request.model_name
    if response.id is None:
        response.id = request.id
    return response


def _tensors_of(result: Any, *, model: str) -> InferResponse:
    if isinstance(result, InferResponse):
        return result
    if isinstance(result, dict) and "outputs" in result:
        return v2.response_from_dict(result)
    if isinstance(result, dict | bytes | bytearray):
        raise InferenceError(
            f"Model {model} returned {type(result).__name__}, which V2 gRPC cannot carry; "
            "return tensors (an InferResponse, an array or a list)."
        )
    return InferResponse([ResponseOutput("output-0", np.asarray(result))])


def encode_response(
    response: InferResponse, request: InferRequest, *, raw: bool
) -> pb.ModelInferResponse:
    chosen = [(as_array(o.data), o) for o in _wanted(response, request)]
    datatypes = [o.datatype or datatype_of(array) for array, o in chosen]
    raw = raw or "FP16" in datatypes
    message = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version or "",
        id=response.id or "",
    )
    fill_parameters(message.parameters, response.parameters)
    for (array, output), datatype in zip(chosen, datatypes, strict=True):
        tensor = message.outputs.add(
            name=output.name, datatype=datatype, shape=output.shape or list(array.shape)
        )
        fill_parameters(tensor.parameters, output.parameters)
        if raw:
            message.raw_output_contents.append(
                tensors.to_raw(array, datatype=datatype, tensor=output.name)
            )
        else:
            tensors.fill_contents(tensor.contents, array, datatype=datatype, tensor=output.name)
    return message


def _wanted(response: InferResponse, request: InferRequest) -> list[ResponseOutput]:
    if request.outputs is None:
        return response.outputs
    wanted = []
    for requested in request.outputs:
        output = response.output(requested.name)
        if output is None:
            names = ", ".join(o.name for o in response.outputs)
            raise InvalidInput(
                f"output {requested.name!r} is not produced by model "
                f"{response.model_name!r} (outputs: {names})."
            )
        wanted.append(output)
    return wanted


def parameters(entries: Mapping[str, pb.InferParameter]) -> dict[str, Any]:
    """Request or tensor parameters as plain values (an unset one is skipped)."""
    out: dict[str, Any] = {}
    for key, param in entries.items():
        choice = param.WhichOneof("parameter_choice")
        if choice is not None:
            out[key] = getattr(param, choice)
    return out


def fill_parameters(
    target: MutableMapping[str, pb.InferParameter], values: Mapping[str, Any]
) -> None:
    """Plain values into InferParameter entries; what has no field travels as a JSON string."""
    for key, value in values.items():
        if isinstance(value, np.generic):
            value = value.item()
        param = target[key]
        if isinstance(value, bool):
            param.bool_param = value
        elif isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
            param.int64_param = value
        elif isinstance(value, int) and 0 <= value < 1 << 64:
            param.uint64_param = value
        elif isinstance(value, float):
            param.double_param = value
        else:
            param.string_param = value if isinstance(value, str) else _as_json(value)


def _as_json(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except orjson.JSONEncodeError:  # e.g. an int past 64 bits
        return str(value)
