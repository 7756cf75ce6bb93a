"""Shadow copies of gRPC calls through a real gateway process, in front of two small ModelInfer
servers (grpc's own, in this process): the client gets the answered release's outputs only,
the shadow sees the copies marked `x-mls-shadow`, and the gateway's agreement counts equal the
ones this test makes from what the shadow saw, though one server answers typed contents and
the other raw bytes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2

from mlservice.gateway.reqlog.localfile import read_events
from tests.gateway.gateway_procs import Gateway, revision, route, snapshot, start_grpc_gateway
from tests.gateway.shadow_helpers import settled
from tests.support.polling import wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e
INFER = "/inference.GRPCInferenceService/ModelInfer"
HOST = "shadowed.ns.localhost"


class Doubler:
    """ModelInfer: input x (INT32) -> output y = 2x (FP32), or -1 where x % 3 == 0 if
    `differs`; typed contents, or raw bytes if `raw`. Remembers each call's x and metadata."""

    def __init__(self, *, differs: bool = False, raw: bool = False) -> None:
        self.differs, self.raw = differs, raw
        self.seen: list[tuple[int, dict[str, str]]] = []
        self.port = free_port()
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((self,))
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self.server.start()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != INFER:
            return None
        return grpc.unary_unary_rpc_method_handler(
            self._infer,
            request_deserializer=service_pb2.ModelInferRequest.FromString,
            response_serializer=service_pb2.ModelInferResponse.SerializeToString,
        )

    def _infer(
        self, request: service_pb2.ModelInferRequest, context: grpc.ServicerContext
    ) -> service_pb2.ModelInferResponse:
        x = int(request.inputs[0].contents.int_contents[0])
        with self._lock:
            self.seen.append((x, {k: str(v) for k, v in context.invocation_metadata()}))
        y = np.array([-1.0 if self.differs and x % 3 == 0 else 2.0 * x], dtype=np.float32)
        reply = service_pb2.ModelInferResponse(model_name="m", id=request.id)
        output = reply.outputs.add(name="y", datatype="FP32", shape=[1])
        if self.raw:
            reply.raw_output_contents.append(y.astype("<f4").tobytes())
        else:
            output.contents.fp32_contents.extend(y.tolist())
        return reply


@pytest.fixture
def servers() -> Iterator[tuple[Doubler, Doubler]]:
    answered, shadow = Doubler(), Doubler(differs=True, raw=True)
    yield answered, shadow
    answered.server.stop(0)
    shadow.server.stop(0)


@pytest.fixture
def gateway_grpc(tmp_path: Path) -> Iterator[tuple[Gateway, str]]:
    running, target = start_grpc_gateway(tmp_path)
    yield running, target
    running.proc.stop()


def _revision(rid: str, server: Doubler, release: str, **extra: object) -> dict[str, object]:
    rev = revision(rid, f"127.0.0.1:{free_port()}", release=release, service="shadowed", **extra)
    rev["endpoints"][0]["grpc"] = f"127.0.0.1:{server.port}"
    return rev


def _infer(channel: grpc.Channel, x: int) -> list[float]:
    infer = channel.unary_unary(
        INFER,
        request_serializer=service_pb2.ModelInferRequest.SerializeToString,
        response_deserializer=service_pb2.ModelInferResponse.FromString,
    )
    request = service_pb2.ModelInferRequest(model_name="m", id=f"r{x}")
    tensor = request.inputs.add(name="x", datatype="INT32", shape=[1])
    tensor.contents.int_contents.append(x)
    reply = infer(request, timeout=10)
    return list(reply.outputs[0].contents.fp32_contents)


def test_grpc_calls_are_copied_and_judged_by_their_outputs(
    gateway_grpc: tuple[Gateway, str], servers: tuple[Doubler, Doubler]
) -> None:
    gateway, target = gateway_grpc
    answered, shadow = servers
    main, copy = "ns/shadowed-predict-v1-00001", "ns/shadowed-predict-v2-00001"
    logger = {"mode": "all", "urls": []}
    revisions = [
        _revision(main, answered, "v1", logger=logger),
        _revision(copy, shadow, "v2", logger=logger),
    ]
    shadowing = {"revision": copy, "release": "v2", "percent": 50}
    routes = [route(HOST, (main, "v1", 100), service="shadowed", shadow=shadowing)]
    gateway.put(snapshot(1, revisions, routes))

    options = [("grpc.default_authority", HOST)]
    with grpc.insecure_channel(target, options=options) as channel:
        for x in range(120):
            assert _infer(channel, x) == [2.0 * x]  # never the shadow's answer
    got = settled(gateway, copy, 1)
    wait_until(
        lambda: len(shadow.seen) == got["mls_gateway_shadow_copies_total{outcome=sent}"] or None,
        timeout=10,
        message="every sent copy to reach the shadow",
    )
    got = settled(gateway, copy, len(shadow.seen))
    copied = [x for x, _ in shadow.seen]
    assert 30 <= len(copied) <= 90  # 50 % of 120, far inside chance
    assert len(answered.seen) == 120
    assert all(metadata.get("x-mls-shadow") == "true" for _, metadata in shadow.seen)
    disagree = sum(1 for x in copied if x % 3 == 0)
    assert got["mls_gateway_shadow_copies_total{outcome=sent}"] == len(copied)
    assert got["mls_gateway_shadow_agreement_total{result=agree}"] == len(copied) - disagree
    assert got["mls_gateway_shadow_agreement_total{result=disagree}"] == disagree
    assert got.get("mls_gateway_shadow_agreement_total{result=incomparable}", 0) == 0

    # A copied call's four events share one id: the shadow's marked, all of them the
    # messages without their gRPC framing, as the proxy logs calls.
    def logged() -> list[dict[str, object]] | None:
        events = list(read_events(gateway.request_logs))
        shadowed = {e["id"] for e in events if e.get("shadow") == "true"}
        if len(shadowed) < len(copied):
            return None
        first = sorted(shadowed)[0]
        return [e for e in events if e["id"] == first]

    one = wait_until(logged, timeout=10, message="the copies' events in the request log")
    assert len(one) == 4, one
    roles = sorted((e.get("shadow") == "true", str(e["type"]).rsplit(".", 1)[1]) for e in one)
    assert roles == [(False, "request"), (False, "response"), (True, "request"), (True, "response")]
    assert {e["datacontenttype"] for e in one} == {"application/x-protobuf"}
