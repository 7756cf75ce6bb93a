"""Real `mls serve` processes with V2 gRPC on, shared by the gRPC tests.

The test process speaks gRPC only through tritonclient (its `grpc_service.proto` stubs). Our own
stubs register the same protobuf package, `inference`, in the default pool, so they must never
be imported here: servers run as separate processes, and the pure conversions in
`mlservice.server.grpc.tensors` are the only part of our gRPC package the tests import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_procs import GrpcServed, grpc_target
from server_procs import MODELS, Launcher
from tritonclient.grpc import service_pb2_grpc


@pytest.fixture(scope="session")
def iris_grpc(
    launcher: Launcher, sklearn_model: Any, tmp_path_factory: pytest.TempPathFactory
) -> GrpcServed:
    import joblib

    folder = tmp_path_factory.mktemp("sklearn-grpc")
    joblib.dump(sklearn_model, folder / "model.joblib")
    served = launcher.start(folder, "--grpc-port", "0", name="iris")
    return GrpcServed(served, grpc_target(served), "iris")


@pytest.fixture(scope="session")
def echo_grpc(launcher: Launcher) -> GrpcServed:
    # GRPC_PORT as the local engine sets it; batching on, so concurrent calls can share one
    # predict (requests that run alone are not delayed); a small message limit to hit it.
    args = ("--max-body-bytes", str(1 << 20), "--max-batch-size", "16")
    args += ("--max-batch-delay-ms", "200")
    env = {"GRPC_PORT": "0", "MLS_RELEASE": "v7"}
    served = launcher.start(MODELS / "echo", *args, name="echo", env=env)
    return GrpcServed(served, grpc_target(served), "echo")


@pytest.fixture
def stub(echo_grpc: GrpcServed) -> Iterator[Any]:
    """A plain generated stub (tritonclient's copy of the service) for hand-built messages."""
    with grpc.insecure_channel(echo_grpc.target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
