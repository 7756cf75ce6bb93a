"""A gRPC ModelInfer costs the event loop what a REST request costs it: one task for the call and
one hop to the inference thread and back, batching on or off (an idle batcher adds nothing).

The server runs in a child process (`python -m tests.server.test_server_grpc_loop`): our
generated stubs register package `inference`, which clashes with tritonclient's copy that the
gRPC tests load in this process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from mlservice.server.dataplane import BatchSettings, DataPlane
from tests.server.test_server_batcher import CountingLoop, SyncEcho

ROOT = Path(__file__).parents[2]
CALLS = 20


def test_a_grpc_call_costs_one_task_and_one_hop() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.server.test_server_grpc_loop"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "ok", result.stdout + result.stderr
    rows = [line.split() for line in lines[:-1]]
    assert [batching for batching, _, _ in rows] == ["off", "on"], result.stdout
    for batching, hops, tasks in rows:
        assert (float(hops), float(tasks)) == (1.0, 1.0), f"batching {batching}: {rows}"


# -- the child process --------------------------------------------------------------------------
def _costs(batching: BatchSettings | None) -> tuple[float, float]:
    import grpc

    from mlservice.server.grpc.generated import inference_pb2 as pb
    from mlservice.server.grpc.server import GrpcSettings, serve_grpc

    loop = CountingLoop()
    dataplane = DataPlane(batching=batching)
    model = SyncEcho()
    dataplane.register(model)
    settings = GrpcSettings(host="127.0.0.1", port=0, max_message_bytes=1 << 20, release="v7")
    measured: dict[str, float] = {}

    def client(port: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            infer = channel.unary_unary(
                "/inference.GRPCInferenceService/ModelInfer",
                request_serializer=pb.ModelInferRequest.SerializeToString,
                response_deserializer=pb.ModelInferResponse.FromString,
            )
            message = pb.ModelInferRequest(model_name="echo", id="r1")
            tensor = message.inputs.add(name="x", datatype="FP32", shape=[1, 2])
            tensor.contents.fp32_contents.extend([1.0, 2.5])
            reply, call = infer.with_call(message)  # warm-up: connection and first-call set-up
            assert list(reply.outputs[0].contents.fp32_contents) == [1.0, 2.5], reply
            assert ("x-mls-release", "v7") in tuple(call.trailing_metadata())
            before = dict(loop.counts)
            for _ in range(CALLS):
                infer(message)
            after = dict(loop.counts)
        measured["hops"] = (after["from_threads"] - before["from_threads"]) / CALLS
        measured["tasks"] = (after["tasks"] - before["tasks"]) / CALLS

    async def scenario() -> None:
        async with serve_grpc(dataplane, settings) as port:
            await asyncio.to_thread(client, port)
        await dataplane.stop()

    loop.run_until_complete(scenario())
    loop.close()
    assert model.calls == CALLS + 1
    return measured["hops"], measured["tasks"]


def _child() -> None:
    for batching in (None, BatchSettings(max_size=32, max_delay_seconds=30.0)):
        hops, tasks = _costs(batching)
        print("on" if batching else "off", hops, tasks, flush=True)
    print("ok")


if __name__ == "__main__":
    _child()
