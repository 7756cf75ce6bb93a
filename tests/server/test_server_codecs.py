"""V2 codecs in-process: datatypes, JSON and binary tensors, wire compatibility with Triton."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from mlservice.errors import InvalidInput
from mlservice.server.codecs import v2
from mlservice.server.codecs.datatypes import DTYPES, deserialize_bytes, serialize_bytes
from mlservice.server.codecs.payload import decode_body, decode_v2, encode_v1, encode_v2
from mlservice.server.types import InferRequest, InferResponse, RequestedOutput, ResponseOutput

NUMERIC = [name for name in DTYPES if name != "BYTES"]


def arrays_of(datatype: str) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(
        DTYPES[datatype],
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
        # JSON has no NaN or infinity (orjson writes null); the binary test below covers them.
        elements={"allow_nan": False, "allow_infinity": False}
        if DTYPES[datatype].kind == "f"
        else None,
    )


def round_trip(array: np.ndarray, datatype: str, *, binary: bool) -> np.ndarray:
    """Encode as a response, decode the wire bytes as a request: what a peer would read."""
    request = InferRequest([], parameters={"binary_data_output": binary})
    response = InferResponse([ResponseOutput("t", array, datatype)], model_name="m")
    body, header_length = v2.encode_response(response, request)
    doc = orjson.loads(body[:header_length] if header_length else body)
    doc["inputs"] = doc.pop("outputs")
    binary_part = memoryview(body)[header_length:] if header_length else None
    return v2.request_from_dict(doc, binary=binary_part).inputs[0].data


@settings(deadline=None, max_examples=25)
@given(st.sampled_from(NUMERIC).flatmap(lambda d: st.tuples(st.just(d), arrays_of(d))))
def test_numeric_tensors_round_trip(case: tuple[str, np.ndarray]) -> None:
    datatype, array = case
    for binary in (False, True):
        got = round_trip(array, datatype, binary=binary)
        assert got.dtype == array.dtype
        np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("datatype", ["FP16", "FP32", "FP64"])
def test_nan_and_infinity_survive_binary_tensors(datatype: str) -> None:
    array = np.array([np.nan, np.inf, -np.inf, 0.0], dtype=DTYPES[datatype])
    np.testing.assert_array_equal(round_trip(array, datatype, binary=True), array)


@settings(deadline=None, max_examples=25)
@given(st.lists(st.binary(max_size=20), max_size=6))
def test_bytes_serialization_matches_tritonclient(items: list[bytes]) -> None:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    ours = serialize_bytes(array)
    if items:
        assert ours == serialize_byte_tensor(array).item()
        assert deserialize_bytes_tensor(ours).tolist() == items
    assert deserialize_bytes(ours, tensor="t").tolist() == items


def test_json_and_binary_inputs_mix_in_one_request() -> None:
    raw = np.arange(6, dtype=np.float32).tobytes()
    header = orjson.dumps(
        {
            "id": 7,
            "inputs": [
                {"name": "a", "datatype": "INT32", "shape": [2], "data": [[1], [2]]},
                {
                    "name": "b",
                    "datatype": "FP32",
                    "shape": [2, 3],
                    "parameters": {"binary_data_size": 24},
                },
            ],
            "outputs": [{"name": "b", "parameters": {"binary_data": True}}],
        }
    )
    request = v2.decode_request(header + raw, header_length=len(header))
    assert request.id == "7"
    assert request.inputs[0].data.tolist() == [1, 2]
    np.testing.assert_array_equal(
        request.inputs[1].data, np.arange(6, dtype=np.float32).reshape(2, 3)
    )
    assert request.outputs == [RequestedOutput("b", {"binary_data": True})]


def one_input(**fields: object) -> bytes:
    return orjson.dumps({"inputs": [{"name": "a", "shape": [1], **fields}]})


BINARY_FP32 = one_input(datatype="FP32", parameters={"binary_data_size": 3})
BINARY_BYTES = one_input(datatype="BYTES", parameters={"binary_data_size": 3})


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b'{"inputs": []}', None, 'The V2 request needs "inputs", a non-empty list.'),
        (b"[]", None, "The V2 request body must be a JSON object."),
        (one_input(data=[1]), None, "input 'a' needs a datatype."),
        (one_input(datatype="FP32", data=[1], shape=[-1]), None, "input 'a' shape must be"),
        (one_input(datatype="FP32"), None, "input 'a' has neither data nor binary_data_size."),
        (BINARY_FP32, None, "input 'a' has binary_data_size but the request carries no binary"),
        (BINARY_FP32 + b"abc", 999, "Inference-Header-Content-Length 999 is outside the body"),
        (BINARY_FP32 + b"abc", len(BINARY_FP32), "input 'a' binary_data_size 3 is not a multiple"),
        (BINARY_BYTES + b"abc", len(BINARY_BYTES), "tensor 'a' BYTES data ends inside a length"),
        (one_input(datatype="BYTES", data=[1]), None, "tensor 'a' is BYTES but element 0 is not"),
        (one_input(datatype="FP32", data=[[1], [2, 3]]), None, "tensor 'a' data is ragged"),
        (b'{"inputs": [{"name": "a", ', None, "The request body is not valid JSON"),
    ],
)
def test_bad_requests_are_refused_with_a_named_reason(
    body: bytes, header_length: int | None, message: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        v2.decode_request(body, header_length=header_length)
    assert info.value.message.startswith(message)


@pytest.mark.parametrize(
    "shape", [[0, 2**62], [2**63 - 1, 0], [1] * 65], ids=["huge-after-zero", "huge-before", "65-d"]
)
def test_a_shape_numpy_cannot_build_is_400(shape: list[int]) -> None:
    """Found by the serve fuzzer: [0, 2**62] needs no elements, so the count check passed and
    numpy's ValueError ("array is too big") was a 500."""
    size = 1 if len(shape) == 65 else 0
    body = one_input(datatype="FP32", data=[1.0] * size, shape=shape)
    with pytest.raises(InvalidInput) as info:
        v2.decode_request(body)
    assert info.value.message.startswith(f"input 'a' shape {shape} is not a possible array: ")


def test_requested_binary_output_overrides_the_default() -> None:
    request = InferRequest(
        [],
        parameters={"binary_data_output": True},
        outputs=[RequestedOutput("a", {"binary_data": False}), RequestedOutput("b")],
    )
    response = InferResponse(
        [
            ResponseOutput("a", np.array([1, 2])),
            ResponseOutput("b", np.array([0.5], dtype=np.float32)),
        ]
    )
    body, header_length = v2.encode_response(response, request)
    assert header_length is not None
    doc = orjson.loads(body[:header_length])
    assert doc["outputs"][0]["data"] == [1, 2]
    assert doc["outputs"][1]["parameters"] == {"binary_data_size": 4}
    assert body[header_length:] == np.array([0.5], dtype=np.float32).tobytes()


def test_non_utf8_bytes_need_binary_output() -> None:
    array = np.array([b"\xff\xfe"], dtype=object)
    with pytest.raises(InvalidInput, match="request it with binary_data"):
        v2.encode_response(InferResponse([ResponseOutput("raw", array)]), None)


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (None, b'{"instances": [1]}', {"instances": [1]}),
        ("application/x-www-form-urlencoded", b'{"a": 1}', {"a": 1}),  # curl -d
        ("image/png", b'{"a": 1}', b'{"a": 1}'),
        ("application/octet-stream", b"\x00\x01", b"\x00\x01"),
        (None, b"\x89PNG", b"\x89PNG"),  # curl -T sends no content type
    ],
)
def test_bodies_become_json_or_stay_raw(
    content_type: str | None, body: bytes, expected: object
) -> None:
    assert decode_body(body, content_type) == expected


def test_malformed_json_is_named() -> None:
    with pytest.raises(InvalidInput, match="The request body is not valid JSON"):
        decode_body(b'{"a": ', "application/json")
    with pytest.raises(InvalidInput, match="is not an integer"):
        decode_v2(b"{}", content_type=None, header_length="ten")


def test_results_are_encoded_by_type() -> None:
    assert encode_v1(np.array([1, 2])).body == b'{"predictions":[1,2]}'
    assert encode_v1({"anything": np.float32(0.5)}).body == b'{"anything":0.5}'
    assert encode_v1(b"\x00").content_type == "application/octet-stream"
    encoded = encode_v2([[1.5, 2.5]], InferRequest([], id="r"), model_name="m")
    assert orjson.loads(encoded.body) == {
        "model_name": "m",
        "id": "r",
        "outputs": [{"name": "output-0", "datatype": "FP64", "shape": [1, 2], "data": [1.5, 2.5]}],
    }
