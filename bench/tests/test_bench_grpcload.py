"""The h2load path against a real grpcio server on loopback: framing, decoding, error counting."""

import shutil
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from tritonclient.grpc import service_pb2

from mlsbench import grpcload, procs

ROW = (6.3, 3.3, 6.0, 2.5)


class _Infer:
    """A ModelInfer handler that answers class 2, or fails with INVALID_ARGUMENT when asked."""

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.requests: list[service_pb2.ModelInferRequest] = []

    def __call__(
        self, request: service_pb2.ModelInferRequest, context: grpc.ServicerContext
    ) -> service_pb2.ModelInferResponse:
        self.requests.append(request)
        if self.fail:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "input 'input-0' is wrong")
        response = service_pb2.ModelInferResponse(model_name=request.model_name)
        out = response.outputs.add(name="predict", datatype="INT64", shape=[1])
        out.contents.int64_contents.append(2)
        return response


def _serve(handler: _Infer) -> tuple[grpc.Server, int]:
    method = grpc.unary_unary_rpc_method_handler(
        handler,
        request_deserializer=service_pb2.ModelInferRequest.FromString,
        response_serializer=service_pb2.ModelInferResponse.SerializeToString,
    )
    generic = grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService", {"ModelInfer": method}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[generic])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture(params=[False, True], ids=["ok", "failing"])
def infer_server(request: pytest.FixtureRequest) -> Iterator[tuple[_Infer, int]]:
    handler = _Infer(fail=request.param)
    server, port = _serve(handler)
    yield handler, port
    server.stop(grace=None).wait(5)


def test_request_message_decodes_to_one_fp32_row():
    request = service_pb2.ModelInferRequest.FromString(grpcload.request_message(ROW))
    assert request.model_name == "iris"
    assert list(request.inputs[0].shape) == [1, 4]
    assert list(request.inputs[0].contents.fp32_contents) == pytest.approx(ROW)


def test_frame_prefixes_flag_and_big_endian_length():
    assert grpcload.frame(b"abc") == b"\x00\x00\x00\x00\x03abc"


def test_prediction_of_reads_raw_output_contents():
    response = service_pb2.ModelInferResponse()
    response.outputs.add(name="predict", datatype="INT64", shape=[1])
    response.raw_output_contents.append((2).to_bytes(8, "little"))
    assert grpcload.prediction_of(response) == 2


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load is not installed")
def test_h2load_replays_the_frame_and_counts_failed_calls(tmp_path, infer_server):
    handler, port = infer_server
    message = grpcload.request_message(ROW)
    body = tmp_path / "infer.grpc"
    body.write_bytes(grpcload.frame(message))
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "h2load.log"
    out, latencies = grpcload.run(
        url, body=body, log=log, clients=2, streams=1, seconds=1, core=None
    )
    ok_response = service_pb2.ModelInferResponse(model_name="iris")
    ok_response.outputs.add(name="predict", datatype="INT64", shape=[1])
    ok_response.outputs[0].contents.int64_contents.append(2)
    size = len(ok_response.SerializeToString()) + 5
    result = grpcload.parse(out, latencies_ms=latencies, response_bytes=size)
    assert handler.requests
    assert all(r.SerializeToString() == message for r in handler.requests)
    if handler.fail:
        assert (result.requests, result.errors) == (0, len(latencies))
        with pytest.raises(RuntimeError, match="INVALID_ARGUMENT input 'input-0' is wrong"):
            grpcload.call_once(f"127.0.0.1:{port}", message)
    else:
        assert result.requests == len(latencies) > 0
        assert result.errors == 0
        assert result.suspect == ""
        assert grpcload.prediction_of(grpcload.call_once(f"127.0.0.1:{port}", message)) == 2


def test_wait_serving_gives_up_on_a_closed_port():
    target = f"127.0.0.1:{procs.free_port()}"
    with pytest.raises(grpcload.GrpcUnavailable, match=f"nothing serves gRPC on {target}"):
        grpcload.wait_serving(target, timeout=0.5)


H2LOAD_SUMMARY = """finished in 10.00s, 2000.00 req/s, 300KB/s
requests: 20000 total, 20016 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout
traffic: 1.2MB (1200000) total, 12KB (12000) headers (space savings 95.00%), 1.1MB (1100000) data
                     min         max         mean         sd        +/- sd
time for request:      622us     36.52ms      7.01ms      1.59ms    84.27%
"""


def test_a_log_that_contradicts_the_summary_is_flagged():
    slow = [590.0, 600.0, 610.0] * 6667
    bad = grpcload.parse(H2LOAD_SUMMARY, latencies_ms=slow, response_bytes=55)
    assert bad.suspect == "h2load's log mean 600.0 ms disagrees with its summary mean 7.0 ms"
    good = grpcload.parse(H2LOAD_SUMMARY, latencies_ms=[6.0, 7.0, 8.0] * 6667, response_bytes=55)
    assert good.suspect == ""
    assert (good.requests, good.errors) == (20000, 0)


def test_a_log_missing_calls_is_flagged():
    partial = grpcload.parse(H2LOAD_SUMMARY, latencies_ms=[7.0] * 5000, response_bytes=55)
    assert partial.suspect == "h2load logged 5000 of its 20000 calls"
