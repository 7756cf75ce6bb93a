"""Health, metadata and the repository RPCs over gRPC agree with what REST says."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

import mlservice
from tests.server.grpc.grpc_procs import GrpcServed

pytestmark = pytest.mark.e2e


def test_server_and_model_health(iris_grpc: GrpcServed) -> None:
    with iris_grpc.client() as client:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("iris")


def test_unknown_model_is_not_found_with_the_rest_message(iris_grpc: GrpcServed) -> None:
    with iris_grpc.client() as client, pytest.raises(InferenceServerException) as caught:
        client.is_model_ready("nope")
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    rest = httpx.get(f"{iris_grpc.rest.url}/v2/models/nope/ready", timeout=10)
    assert rest.status_code == 404
    assert caught.value.message() == rest.json()["error"] == "Model nope is not served here."


def test_server_metadata_matches_rest(iris_grpc: GrpcServed) -> None:
    with iris_grpc.client() as client:
        meta = client.get_server_metadata(as_json=True)
    rest = httpx.get(f"{iris_grpc.rest.url}/v2", timeout=10).json()
    assert meta["name"] == rest["name"] == "mlservice"
    assert meta["version"] == mlservice.__version__
    assert meta.get("extensions", []) == rest["extensions"]


def _tensors(items: list[dict[str, Any]]) -> list[tuple[str, str, list[int]]]:
    # MessageToJson writes int64 values as strings.
    return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in items]


def test_model_metadata_matches_rest(iris_grpc: GrpcServed) -> None:
    with iris_grpc.client() as client:
        meta = client.get_model_metadata("iris", as_json=True)
    rest = httpx.get(f"{iris_grpc.rest.url}/v2/models/iris", timeout=10).json()
    assert meta["name"] == "iris"
    assert meta["platform"] == rest["platform"] == "sklearn"
    assert _tensors(meta["inputs"]) == _tensors(rest["inputs"]) == [("input-0", "FP64", [-1, 4])]
    assert _tensors(meta["outputs"]) == _tensors(rest["outputs"])
    assert [name for name, _, _ in _tensors(meta["outputs"])] == ["predict", "predict_proba"]


def test_repository_index_unload_and_load(iris_grpc: GrpcServed) -> None:
    ready_url = f"{iris_grpc.rest.url}/v2/health/ready"
    with iris_grpc.client() as client:
        index = client.get_model_repository_index(as_json=True)
        assert index["models"] == [{"name": "iris", "state": "READY"}]
        client.unload_model("iris")
        try:
            assert not client.is_model_ready("iris")
            assert not client.is_server_ready()
            assert httpx.get(ready_url, timeout=10).status_code == 503
            (entry,) = client.get_model_repository_index(as_json=True)["models"]
            assert entry["state"] == "UNAVAILABLE"
        finally:
            client.load_model("iris")
        assert client.is_model_ready("iris")
    assert httpx.get(ready_url, timeout=10).status_code == 200


def test_repository_errors_name_the_model_or_repository(iris_grpc: GrpcServed) -> None:
    with iris_grpc.client() as client:
        with pytest.raises(InferenceServerException) as missing:
            client.load_model("nope")
        with pytest.raises(InferenceServerException) as configured:
            client.load_model("iris", config='{"max_batch_size": 4}')
    assert missing.value.status() == "StatusCode.NOT_FOUND"
    assert missing.value.message() == "Model nope is not served here."
    assert configured.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert configured.value.message() == "Model iris cannot be loaded with parameters (config)."
    with grpc.insecure_channel(iris_grpc.target) as channel:
        index = channel.unary_unary(
            "/inference.GRPCInferenceService/RepositoryIndex",
            request_serializer=service_pb2.RepositoryIndexRequest.SerializeToString,
            response_deserializer=service_pb2.RepositoryIndexResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as other:
            index(service_pb2.RepositoryIndexRequest(repository_name="elsewhere"), timeout=10)
    assert other.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Repository elsewhere is not served here" in str(other.value.details())
