"""Real `mls serve` processes with V2 gRPC on, shared by the gRPC tests.

The test process speaks gRPC only through tritonclient (its `grpc_service.proto` stubs). Our own
stubs register the same protobuf package, `inference`, in the default pool, so they must never
be imported here: servers run as separate processes, and the pure conversions in
`mlservice.server.grpc.tensors` are the only part of our gRPC package the tests import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.grpc.grpc_procs import GrpcServed, grpc_target
from tests.server.server_procs import MODELS, Launcher

MODELS_HERE = Path(__file__).parent / "models"


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
    args = ["--max-body-bytes", str(1 << 20), "--max-batch-size", "16"]
    args += ["--max-batch-delay-ms", "200"]
    env = {"GRPC_PORT": "0", "MLS_RELEASE": "v7"}
    served = launcher.start(MODELS / "echo", *args, name="echo", env=env)
    return GrpcServed(served, grpc_target(served), "echo")


@pytest.fixture
def stub(echo_grpc: GrpcServed) -> Iterator[Any]:
    with echo_grpc.stub() as echo_stub:
        yield echo_stub


@pytest.fixture(scope="module")  # one test module uses it: stop it after that module
def answers_grpc(launcher: Launcher) -> Iterator[GrpcServed]:
    served = launcher.start(MODELS_HERE / "answers", "--grpc-port", "0", name="answers")
    yield GrpcServed(served, grpc_target(served), "answers")
    served.stop()
