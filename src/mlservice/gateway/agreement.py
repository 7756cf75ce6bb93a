"""Whether a shadow release agreed with the release that answered the client: a pure function.

Only predictions are compared, never whole bodies (ids, timings and model names differ
between releases by design): V1's `predictions`, V2's `outputs[].data` in output order, and a
gRPC ModelInferResponse's outputs (typed contents or raw, as flat lists) in output order.
Numbers agree within `RTOL`/`ATOL` as numpy's `isclose` words it (`|a - b| <= ATOL + RTOL *
|b|`, b being the answered release's), so float noise from another build of a model is not a
disagreement; everything else (strings, booleans, nulls, shapes) must be equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import orjson

from mlservice.errors import MLServiceError
from mlservice.h2c import grpcwire

Verdict = Literal["agree", "disagree", "incomparable"]
RTOL = 1e-5
ATOL = 1e-8


def predictions(body: bytes) -> tuple[object] | None:
    """The predictions in a V1 or V2 answer (wrapped, as they may be null); None if none."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    if "predictions" in doc:
        return (doc["predictions"],)
    outputs = doc.get("outputs")
    if isinstance(outputs, list) and all(isinstance(o, dict) for o in outputs):
        return ([o.get("data") for o in outputs],)
    return None


def grpc_predictions(body: bytes) -> tuple[object] | None:
    """The outputs of a framed ModelInferResponse (one message, uncompressed); None if none."""
    message, content_type = grpcwire.unframe(body)
    if content_type != grpcwire.PROTOBUF:
        return None
    # Imported on the first gRPC copy: the gateway otherwise never decodes a message.
    from google.protobuf.message import DecodeError

    from mlservice.server.grpc import tensors
    from mlservice.server.grpc.generated import inference_pb2 as pb

    try:
        reply = pb.ModelInferResponse.FromString(message)
    except DecodeError:
        return None
    raw = reply.raw_output_contents
    outputs: list[object] = []
    try:
        for index, output in enumerate(reply.outputs):
            kind, name = output.datatype, output.name
            if raw:
                array = tensors.from_raw(raw[index], datatype=kind, tensor=name)
            else:
                field = tensors.contents_field(kind, tensor=name)
                values = getattr(output.contents, field)
                array = tensors.from_contents(values, datatype=kind, tensor=name)
            outputs.append(array.tolist())
    except (MLServiceError, IndexError):
        return None
    return (outputs,)


def judge(
    answered: tuple[int, bytes | None],
    shadow: tuple[int, bytes | None],
    *,
    decode: Callable[[bytes], tuple[object] | None] = predictions,
) -> Verdict:
    """`answered` and `shadow` are (status, body; None when not kept or no answer); `decode`
    finds the predictions in a body (`grpc_predictions` for gRPC's).

    Incomparable when the answered release gave no 200 with predictions (nothing to compare
    with); otherwise a shadow that failed or gave no predictions disagrees.
    """
    code, body = answered
    expected = decode(body) if code == 200 and body is not None else None
    if expected is None:
        return "incomparable"
    code, body = shadow
    got = decode(body) if code == 200 and body is not None else None
    if got is None:
        return "disagree"
    return "agree" if same(got[0], expected[0]) else "disagree"


def same(got: object, expected: object) -> bool:
    """Equal, numbers within the tolerance, recursively through lists and objects."""
    if _number(got) and _number(expected):
        a, b = float(got), float(expected)  # type: ignore[arg-type]
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= ATOL + RTOL * abs(b)
    if isinstance(got, list) and isinstance(expected, list):
        return len(got) == len(expected) and all(map(same, got, expected))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in got)
    return type(got) is type(expected) and got == expected


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
