"""What a model returns reaches gRPC clients: parameters of every kind, lists, dicts, FP16."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import orjson
import pytest
from tritonclient.grpc import service_pb2

from tests.server.grpc.grpc_procs import GrpcServed

pytestmark = pytest.mark.e2e


def request(answer: str, *, raw: bool) -> service_pb2.ModelInferRequest:
    message = service_pb2.ModelInferRequest(model_name="answers", id=f"a-{answer}")
    message.parameters["answer"].string_param = answer
    tensor = message.inputs.add(name="x", datatype="INT32", shape=[2])
    if raw:
        message.raw_input_contents.append(np.array([7, -8], dtype="<i4").tobytes())
    else:
        tensor.contents.int_contents.extend([7, -8])
    return message


def plain(parameters: Any) -> dict[str, object]:
    """A protobuf parameter map as plain values."""
    return {
        key: getattr(value, value.WhichOneof("parameter_choice"))
        for key, value in parameters.items()
    }


def test_parameters_of_every_kind_travel_both_ways(answers_grpc: GrpcServed) -> None:
    message = request("params", raw=False)
    message.parameters["on"].bool_param = True
    message.parameters["n"].int64_param = -(2**63)
    message.parameters["u"].uint64_param = 2**64 - 1
    message.parameters["d"].double_param = 0.25
    with answers_grpc.stub() as stub:
        response = stub.ModelInfer(message, timeout=30)
    assert response.id == "a-params"
    assert plain(response.parameters) == {
        "answer": "params",
        "on": True,
        "n": -(2**63),
        "u": 2**64 - 1,
        "d": 0.25,
        "flag": True,
        "count": -3,
        "big": 2**64 - 1,
        "ratio": 0.5,
        "meta": orjson.dumps({"a": [1, 2]}).decode(),
    }
    (output,) = response.outputs
    assert plain(output.parameters) == {"unit": "cm", "scale": 2.5}
    assert list(output.contents.int_contents) == [7, -8]


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
def test_a_plain_list_becomes_output_0(answers_grpc: GrpcServed, raw: bool) -> None:
    with answers_grpc.stub() as stub:
        response = stub.ModelInfer(request("list", raw=raw), timeout=30)
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("output-0", "INT64", [2])
    if raw:
        values = np.frombuffer(response.raw_output_contents[0], dtype="<i8").tolist()
    else:
        values = list(output.contents.int64_contents)
    assert values == [7, -8]


def test_a_v2_dict_is_decoded(answers_grpc: GrpcServed) -> None:
    with answers_grpc.stub() as stub:
        response = stub.ModelInfer(request("v2dict", raw=False), timeout=30)
    (output,) = response.outputs
    assert (output.name, list(output.contents.int_contents)) == ("z", [5])


def test_fp16_answers_go_raw_even_to_a_typed_request(answers_grpc: GrpcServed) -> None:
    with answers_grpc.stub() as stub:
        response = stub.ModelInfer(request("half", raw=False), timeout=30)
    (output,) = response.outputs
    assert output.datatype == "FP16"
    assert not output.HasField("contents")
    (raw,) = response.raw_output_contents
    assert np.frombuffer(raw, dtype="<f2").tolist() == [7.0, -8.0]


def test_a_dict_that_is_no_tensor_is_an_internal_error(answers_grpc: GrpcServed) -> None:
    with answers_grpc.stub() as stub, pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request("dict", raw=True), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == (
        "Model answers returned dict, which V2 gRPC cannot carry; "
        "return tensors (an InferResponse, an array or a list)."
    )
