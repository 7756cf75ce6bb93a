"""The gRPC server's own HTTP/2 side, with grpc's and httpx's clients: deadlines, compression,
metadata, methods it does not have, bodies that are not gRPC, and a graceful stop."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2

from tests.server.grpc.grpc_procs import GrpcServed, grpc_target
from tests.server.server_procs import MODELS, Launcher

pytestmark = pytest.mark.e2e
SERVICE = "/inference.GRPCInferenceService"


def echo_request(*, sleep: float | None = None) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="echo", id="c1")
    tensor = request.inputs.add(name="x", datatype="INT32", shape=[2])
    tensor.contents.int_contents.extend([4, 5])
    if sleep is not None:
        request.parameters["sleep"].string_param = str(sleep)
    return request


def echoed(reply: service_pb2.ModelInferResponse) -> list[int]:
    return list(reply.outputs[0].contents.int_contents)


def test_a_call_past_its_deadline_is_deadline_exceeded_and_the_server_goes_on(
    stub: Any,
) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(echo_request(sleep=0.8), timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 0.8
    # The same channel (connection) carries the next call once the model is free again.
    assert echoed(stub.ModelInfer(echo_request(), timeout=30)) == [4, 5]


@pytest.mark.parametrize("compression", [grpc.Compression.Gzip, grpc.Compression.Deflate])
def test_compressed_requests_are_read(echo_grpc: GrpcServed, compression: grpc.Compression) -> None:
    with grpc.insecure_channel(echo_grpc.target, compression=compression) as channel:
        infer = channel.unary_unary(
            f"{SERVICE}/ModelInfer",
            request_serializer=service_pb2.ModelInferRequest.SerializeToString,
            response_deserializer=service_pb2.ModelInferResponse.FromString,
        )
        request = echo_request()
        request.inputs[0].contents.int_contents.extend([0] * 4000)  # worth compressing
        request.inputs[0].shape[:] = [4002]
        reply = infer(request, timeout=30)
    assert echoed(reply) == [4, 5] + [0] * 4000


def test_metadata_of_both_kinds_is_accepted_and_the_release_comes_back(stub: Any) -> None:
    metadata = (("x-team", "a"), ("x-trace-bin", b"\x00\xff\x01"))
    reply, call = stub.ModelInfer.with_call(echo_request(), metadata=metadata, timeout=30)
    assert echoed(reply) == [4, 5]
    assert ("x-mls-release", "v7") in tuple(call.trailing_metadata())


@pytest.mark.parametrize("path", [f"{SERVICE}/ModelStreamInfer", "/other.Service/Call"])
def test_a_method_the_server_lacks_is_unimplemented(echo_grpc: GrpcServed, path: str) -> None:
    with grpc.insecure_channel(echo_grpc.target) as channel, pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(path)(b"", timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.details() == f"Method not found: {path}"


def test_a_body_that_is_not_one_message_is_internal(echo_grpc: GrpcServed) -> None:
    """A protobuf that does not parse as the RPC's request, through a raw-bytes call."""
    with grpc.insecure_channel(echo_grpc.target) as channel:
        ready = channel.unary_unary(f"{SERVICE}/ModelReady")
        with pytest.raises(grpc.RpcError) as caught:
            ready(b"\x0a\xff", timeout=30)  # a string field whose length runs past the end
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "not a ModelReady message" in (caught.value.details() or "")


def test_http2_that_is_not_grpc_gets_a_grpc_status(echo_grpc: GrpcServed) -> None:
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        answer = client.post(
            f"http://{echo_grpc.target}{SERVICE}/ServerLive",
            content=b"{}",
            headers={"content-type": "application/json"},
        )
    assert answer.http_version == "HTTP/2"
    assert answer.headers["grpc-status"] == "13"
    assert "is not gRPC's" in answer.headers["grpc-message"]


def test_a_stopping_server_finishes_the_calls_in_flight(launcher: Launcher) -> None:
    """SIGTERM while a call runs: the call is answered, then the server exits."""
    served = launcher.start(MODELS / "echo", "--grpc-port", "0", name="echo-stop")
    target = grpc_target(served)
    outcome: dict[str, Any] = {}

    def call() -> None:
        client = triton.InferenceServerClient(target)
        tensor = triton.InferInput("x", [1], "INT32")
        tensor.set_data_from_numpy(np.array([9], dtype=np.int32))
        try:
            result = client.infer("echo-stop", [tensor], parameters={"sleep": "1.0"})
            outcome["answer"] = result.as_numpy("x").tolist()
        except triton.InferenceServerException as exc:
            outcome["error"] = f"{exc.status()}: {exc.message()}"
        finally:
            client.close()

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.4)  # the call is in the model's sleep
    served.stop()
    caller.join(30)
    assert outcome == {"answer": [9]}, (outcome, served.log_text())
    # Exited on its own (uvicorn re-raises SIGTERM once it has shut down), not killed.
    assert served.proc.returncode in (0, -signal.SIGTERM)
