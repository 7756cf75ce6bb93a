"""ModelInfer over gRPC: the same predictions as REST, raw and typed tensors, every datatype."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2

from tests.server.grpc.grpc_procs import GrpcServed
from tests.server.test_server_datatypes import SAMPLES

pytestmark = pytest.mark.e2e

# Where the Open Inference Protocol keeps each datatype's typed contents (FP16 has no field).
TYPED_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
IRIS_INPUTS = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}


def rest_infer(served: GrpcServed, body: dict[str, Any]) -> httpx.Response:
    url = f"{served.rest.url}/v2/models/{served.model}/infer"
    return httpx.post(url, json=body, timeout=30)


def rest_outputs(served: GrpcServed, body: dict[str, Any]) -> dict[str, np.ndarray]:
    answer = rest_infer(served, body)
    assert answer.status_code == 200, answer.text
    return {o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in answer.json()["outputs"]}


def grpc_error(served: GrpcServed, request: service_pb2.ModelInferRequest) -> grpc.RpcError:
    with grpc.insecure_channel(served.target) as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=service_pb2.ModelInferRequest.SerializeToString,
            response_deserializer=service_pb2.ModelInferResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as caught:
            infer(request, timeout=30)
    return caught.value


@pytest.mark.parametrize("datatype", list(IRIS_INPUTS))
def test_iris_predicts_what_rest_and_sklearn_predict(
    iris_grpc: GrpcServed, rows: np.ndarray, sklearn_model: Any, datatype: str
) -> None:
    data = np.rint(rows) if datatype == "INT64" else rows
    data = data.astype(IRIS_INPUTS[datatype])
    tensor = triton.InferInput("input-0", list(data.shape), datatype)
    tensor.set_data_from_numpy(data)
    wanted = [triton.InferRequestedOutput("predict"), triton.InferRequestedOutput("predict_proba")]
    with iris_grpc.client() as client:
        result = client.infer("iris", [tensor], outputs=wanted, request_id=f"g-{datatype}")
    response = result.get_response()
    assert response.id == f"g-{datatype}"
    assert len(response.raw_output_contents) == 2  # raw in, raw out
    body = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": datatype,
                "shape": list(data.shape),
                "data": data.ravel().tolist(),
            }
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    rest = rest_outputs(iris_grpc, body)
    np.testing.assert_array_equal(result.as_numpy("predict"), rest["predict"])
    np.testing.assert_array_equal(result.as_numpy("predict"), sklearn_model.predict(data))
    np.testing.assert_array_equal(result.as_numpy("predict_proba"), rest["predict_proba"])


def test_bytes_echo_matches_rest(echo_grpc: GrpcServed) -> None:
    sample = np.array([[b"a", "\u00e9t\u00e9".encode()], [b"", b"xyz"]], dtype=object)
    tensor = triton.InferInput("x", [2, 2], "BYTES")
    tensor.set_data_from_numpy(sample)
    with echo_grpc.client() as client:
        result = client.infer("echo", [tensor])
    body = {
        "inputs": [
            {
                "name": "x",
                "datatype": "BYTES",
                "shape": [2, 2],
                "data": ["a", "\u00e9t\u00e9", "", "xyz"],
            }
        ]
    }
    rest = rest_outputs(echo_grpc, body)
    np.testing.assert_array_equal(result.as_numpy("x"), sample)
    assert [item.encode() for item in rest["x"].ravel()] == list(result.as_numpy("x").ravel())


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_every_datatype_round_trips_raw(echo_grpc: GrpcServed, datatype: str) -> None:
    sample = SAMPLES[datatype]
    tensor = triton.InferInput("x", list(sample.shape), datatype)
    tensor.set_data_from_numpy(sample)
    with echo_grpc.client() as client:
        result = client.infer("echo", [tensor], request_id=datatype)
    output = result.get_output("x")
    assert (output.datatype, list(output.shape)) == (datatype, [2, 3])
    assert result.get_response().id == datatype
    np.testing.assert_array_equal(result.as_numpy("x"), sample)


def typed_request(
    model: str, tensors: dict[str, tuple[str, np.ndarray]]
) -> service_pb2.ModelInferRequest:
    """A ModelInferRequest with every tensor in its typed `contents` field, nothing raw."""
    request = service_pb2.ModelInferRequest(model_name=model, id="typed")
    for name, (datatype, array) in tensors.items():
        tensor = request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
        getattr(tensor.contents, TYPED_FIELDS[datatype]).extend(array.ravel().tolist())
    return request


@pytest.mark.parametrize("datatype", list(TYPED_FIELDS))
def test_every_datatype_round_trips_typed(echo_grpc: GrpcServed, stub: Any, datatype: str) -> None:
    sample = SAMPLES[datatype]
    response = stub.ModelInfer(typed_request("echo", {"x": (datatype, sample)}), timeout=30)
    assert not response.raw_output_contents  # typed in, typed out
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("x", datatype, [2, 3])
    values = getattr(output.contents, TYPED_FIELDS[datatype])
    got = np.array(list(values), dtype=sample.dtype).reshape(sample.shape)
    np.testing.assert_array_equal(got, sample)


def test_large_typed_floats_round_trip(echo_grpc: GrpcServed, stub: Any) -> None:
    sample = np.linspace(-1, 1, 50_000, dtype=np.float32).reshape(500, 100)
    response = stub.ModelInfer(typed_request("echo", {"x": ("FP32", sample)}), timeout=30)
    got = np.array(response.outputs[0].contents.fp32_contents, dtype=np.float32)
    np.testing.assert_array_equal(got.reshape(sample.shape), sample)


def test_parameters_reach_the_model_and_outputs_are_selected(echo_grpc: GrpcServed) -> None:
    tensor = triton.InferInput("x", [2], "INT64")
    tensor.set_data_from_numpy(np.array([4, 5], dtype=np.int64))
    with echo_grpc.client() as client:
        everything = client.infer("echo", [tensor], parameters={"calls": True})
        chosen = client.infer(
            "echo",
            [tensor],
            parameters={"calls": True},
            outputs=[triton.InferRequestedOutput("call")],
        )
    assert [o.name for o in everything.get_response().outputs] == ["x", "call"]
    assert [o.name for o in chosen.get_response().outputs] == ["call"]
    assert chosen.as_numpy("call").shape == (2,)


def test_release_travels_as_trailing_metadata(echo_grpc: GrpcServed, stub: Any) -> None:
    request = typed_request("echo", {"x": ("INT32", np.array([1]))})
    _, call = stub.ModelInfer.with_call(request, timeout=30)
    assert ("x-mls-release", "v7") in tuple(call.trailing_metadata())


def test_unknown_model_is_not_found(iris_grpc: GrpcServed) -> None:
    error = grpc_error(iris_grpc, typed_request("nope", {"input-0": ("FP64", np.zeros((1, 4)))}))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Model nope is not served here."


def test_bad_shape_is_invalid_argument_naming_the_input(iris_grpc: GrpcServed) -> None:
    tensor = triton.InferInput("input-0", [2, 4], "FP64")
    tensor.set_data_from_numpy(np.zeros((2, 4)))
    tensor.set_shape([3, 4])  # the client checks shapes only when data is set
    with iris_grpc.client() as client, pytest.raises(triton.InferenceServerException) as caught:
        client.infer("iris", [tensor])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    body = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [3, 4], "data": [0.0] * 8}]}
    rest = rest_infer(iris_grpc, body)
    assert rest.status_code == 400
    assert caught.value.message() == rest.json()["error"]
    assert "'input-0'" in caught.value.message()
    assert "[3, 4]" in caught.value.message()


def test_a_shape_numpy_cannot_build_is_invalid_argument(iris_grpc: GrpcServed) -> None:
    """Found by the serve fuzzer: no elements but a dimension of 2**62 was INTERNAL."""
    request = service_pb2.ModelInferRequest(model_name="iris")
    request.inputs.add(name="input-0", datatype="FP32", shape=[0, 2**62])
    error = grpc_error(iris_grpc, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert str(error.details()).startswith(
        f"input 'input-0' shape [0, {2**62}] is not a possible array: "
    )


def test_data_in_the_wrong_typed_field_is_named(echo_grpc: GrpcServed) -> None:
    request = typed_request("echo", {"x": ("INT64", np.array([1, 2]))})
    request.inputs[0].datatype = "FP32"
    error = grpc_error(echo_grpc, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        error.details()
        == "input 'x' is FP32, so its data belongs in fp32_contents, not int64_contents."
    )


def test_fp16_has_no_typed_field(echo_grpc: GrpcServed) -> None:
    request = service_pb2.ModelInferRequest(model_name="echo")
    request.inputs.add(name="half", datatype="FP16", shape=[1])
    error = grpc_error(echo_grpc, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'half'" in str(error.details())
    assert "raw_input_contents" in str(error.details())


def test_raw_contents_must_match_the_inputs(echo_grpc: GrpcServed) -> None:
    request = service_pb2.ModelInferRequest(model_name="echo")
    request.inputs.add(name="a", datatype="INT32", shape=[1])
    request.inputs.add(name="b", datatype="INT32", shape=[1])
    request.raw_input_contents.append(np.int32(7).tobytes())
    error = grpc_error(echo_grpc, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1 raw_input_contents for 2 inputs" in str(error.details())


def test_unknown_output_gets_the_rest_message(echo_grpc: GrpcServed) -> None:
    tensor = triton.InferInput("x", [1], "INT32")
    tensor.set_data_from_numpy(np.array([3], dtype=np.int32))
    with echo_grpc.client() as client, pytest.raises(triton.InferenceServerException) as caught:
        client.infer("echo", [tensor], outputs=[triton.InferRequestedOutput("nope")])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    body = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [3]}]}
    rest = rest_infer(echo_grpc, {**body, "outputs": [{"name": "nope"}]})
    assert caught.value.message() == rest.json()["error"]


def test_model_failure_is_internal_with_the_rest_message(echo_grpc: GrpcServed) -> None:
    tensor = triton.InferInput("x", [1], "INT32")
    tensor.set_data_from_numpy(np.array([3], dtype=np.int32))
    with echo_grpc.client() as client, pytest.raises(triton.InferenceServerException) as caught:
        client.infer("echo", [tensor], parameters={"fail": "boom"})
    assert caught.value.status() == "StatusCode.INTERNAL"
    body = {"inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [3]}]}
    rest = rest_infer(echo_grpc, {**body, "parameters": {"fail": "boom"}})
    assert rest.status_code == 500
    assert caught.value.message() == rest.json()["error"] == "Model echo failed: RuntimeError: boom"


def test_messages_past_the_body_limit_are_refused(echo_grpc: GrpcServed) -> None:
    big = np.zeros(1 << 19, dtype=np.float32)  # 2 MiB against --max-body-bytes 1 MiB
    tensor = triton.InferInput("x", [big.size], "FP32")
    tensor.set_data_from_numpy(big)
    with echo_grpc.client() as client, pytest.raises(triton.InferenceServerException) as caught:
        client.infer("echo", [tensor])
    assert caught.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
