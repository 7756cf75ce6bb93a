"""Tensor conversions of the gRPC adapter, in-process, checked against tritonclient's protobuf.

Only `mlservice.server.grpc.tensors` is imported: it is free of our generated stubs, which must
not share a process with tritonclient's (see conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.grpc import service_pb2
from tritonclient.utils import serialize_byte_tensor

from mlservice.errors import InvalidInput
from mlservice.server.grpc import tensors
from tests.server.test_server_datatypes import SAMPLES

TYPED = [name for name in SAMPLES if name != "FP16"]


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_raw_round_trips_little_endian(datatype: str) -> None:
    sample = SAMPLES[datatype]
    raw = tensors.to_raw(sample, datatype=datatype, tensor="x")
    if datatype == "BYTES":
        assert raw == serialize_byte_tensor(sample).item()
    else:
        assert raw == sample.astype(sample.dtype.newbyteorder("<")).tobytes()
    got = tensors.from_raw(raw, datatype=datatype, tensor="x")
    np.testing.assert_array_equal(got.reshape(sample.shape), sample)


@pytest.mark.parametrize("datatype", TYPED)
def test_typed_contents_are_what_protobuf_writes(datatype: str) -> None:
    sample = SAMPLES[datatype]
    field = tensors.contents_field(datatype, tensor="x")
    ours = service_pb2.InferTensorContents()
    tensors.fill_contents(ours, sample, datatype=datatype, tensor="x")
    reference = service_pb2.InferTensorContents()
    getattr(reference, field).extend(sample.ravel().tolist())
    assert ours == reference
    back = tensors.from_contents(getattr(ours, field), datatype=datatype, tensor="x")
    assert back.dtype == sample.dtype
    np.testing.assert_array_equal(back.reshape(sample.shape), sample)


@settings(deadline=None, max_examples=40)
@given(
    st.sampled_from(["FP32", "FP64"]).flatmap(
        lambda d: st.tuples(
            st.just(d),
            hnp.arrays(
                np.float32 if d == "FP32" else np.float64,
                hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
            ),
        )
    )
)
def test_packed_floats_survive_protobuf(case: tuple[str, np.ndarray]) -> None:
    """NaN, infinities, -0.0 and subnormals included: packed floats are copied bit for bit."""
    datatype, array = case
    contents = service_pb2.InferTensorContents()
    tensors.fill_contents(contents, array, datatype=datatype, tensor="x")
    parsed = service_pb2.InferTensorContents.FromString(contents.SerializeToString())
    field = getattr(parsed, tensors.contents_field(datatype, tensor="x"))
    got = tensors.from_contents(field, datatype=datatype, tensor="x")
    assert got.tobytes() == np.ascontiguousarray(array).ravel().tobytes()


def test_narrow_integers_are_range_checked() -> None:
    with pytest.raises(InvalidInput) as caught:
        tensors.from_contents([1, 300], datatype="INT8", tensor="small")
    assert caught.value.message == "tensor 'small' value 300 is out of range for INT8."
    with pytest.raises(InvalidInput, match="value 70000 is out of range for UINT16"):
        tensors.from_contents([70000], datatype="UINT16", tensor="u")


def test_fp16_and_unknown_datatypes_have_no_typed_field() -> None:
    with pytest.raises(InvalidInput) as half:
        tensors.contents_field("FP16", tensor="h")
    assert half.value.message == (
        "input 'h' is FP16, which has no typed contents field; send it in raw_input_contents."
    )
    with pytest.raises(InvalidInput, match="tensor 'q' has unsupported datatype 'FP8'"):
        tensors.contents_field("FP8", tensor="q")


def test_raw_bytes_must_fill_whole_elements() -> None:
    with pytest.raises(InvalidInput) as caught:
        tensors.from_raw(b"\x00" * 6, datatype="FP32", tensor="x")
    assert caught.value.message == (
        "input 'x' has 6 raw bytes, which is not a multiple of the FP32 element size 4."
    )
