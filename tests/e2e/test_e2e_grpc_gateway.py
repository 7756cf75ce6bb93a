"""Issue 18's gRPC acceptance, end to end: a real `mls up`, real `mls serve` replicas, and
tritonclient.grpc (or grpc's own client) going through the gateway's h2c port with
`:authority` naming the service, as a gRPC client of an ingress does."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2

from mlservice.cli.background import UpProcess
from tests.gateway.e2e_gateway import iris_models, mlservice, release, wait_ready
from tests.gateway.gateway_procs import start_upstream
from tests.gateway.sink_events import request_and_response, sink_records
from tests.support.polling import wait_until
from tests.support.up import PLATFORM_ARGS, apply, scratch_namespace, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROW = [6.3, 3.3, 6.0, 2.5]  # class 2 for `iris/`, 0 for `iris-shifted/`
PREDICTS = {"v1": 2, "v2": 0}
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"
ENV = {"MLS_AUTOSCALER_TICK": "0.5s", "MLS_AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD": "1s"}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    home = tmp_path_factory.mktemp("grpc-gw") / "home"
    args = (*PLATFORM_ARGS, "--gateway-grpc-port", "0")
    with up_process(home, args=args, env=ENV) as running:
        yield running


@pytest.fixture
def namespace(request: pytest.FixtureRequest, up: UpProcess) -> Iterator[str]:
    with scratch_namespace(up, request, limit=30) as name:
        yield name


@pytest.fixture(scope="module")
def models(up: UpProcess) -> str:
    """Volume `grpc-models` with `iris/` and `iris-shifted/` (they disagree on ROW)."""
    return iris_models(up, "grpc-models")


def client(up: UpProcess, host: str) -> triton.InferenceServerClient:
    """tritonclient.grpc through the gateway, `:authority` set to `host`."""
    target = up.endpoints["gateway_grpc"]
    return triton.InferenceServerClient(target, channel_args=[("grpc.default_authority", host)])


def predict(up: UpProcess, host: str, model: str, *, timeout: float = 30) -> int:
    tensor = triton.InferInput("input-0", [1, 4], "FP64")
    tensor.set_data_from_numpy(np.array([ROW], dtype=np.float64))
    with client(up, host) as triton_client:
        result = triton_client.infer(model, [tensor], client_timeout=timeout)
    return int(result.as_numpy("predict")[0])


def infer_request(model: str) -> bytes:
    request = service_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[1, 4])
    tensor.contents.fp64_contents.extend(ROW)
    return bytes(request.SerializeToString())


def class_of(response: service_pb2.ModelInferResponse) -> int:
    """The one INT64 class, raw (tritonclient's requests) or typed (a typed request's)."""
    if response.raw_output_contents:
        return int(np.frombuffer(response.raw_output_contents[0], dtype="<i8")[0])
    return int(response.outputs[0].contents.int64_contents[0])


def test_infer_on_the_service_and_release_hosts_and_the_canary_split(
    up: UpProcess, namespace: str, models: str
) -> None:
    manifest = mlservice(
        "iris",
        release("v1", f"pvc://{models}/iris/"),
        release("v2", f"pvc://{models}/iris-shifted/"),
        canary="v2",
        canaryTrafficPercent=20,
    )
    apply(up, manifest, namespace)
    wait_ready(up, "iris", namespace)
    assert predict(up, f"iris.{namespace}.localhost", "iris") in PREDICTS.values()
    for name, expected in PREDICTS.items():
        assert predict(up, f"iris-predict-{name}.{namespace}.localhost", "iris") == expected

    # 1,000 calls on one channel: the split is rolled per call, and the release in the initial
    # metadata is the one that answered (its model's class).
    seen: Counter[str] = Counter()
    options = [("grpc.default_authority", f"iris.{namespace}.localhost")]
    with grpc.insecure_channel(up.endpoints["gateway_grpc"], options=options) as channel:
        infer = channel.unary_unary(
            MODEL_INFER,
            request_serializer=lambda raw: raw,
            response_deserializer=service_pb2.ModelInferResponse.FromString,
        )
        body = infer_request("iris")
        for _ in range(1000):
            answer, call = infer.with_call(body, timeout=30)
            name = dict(call.initial_metadata())["x-mls-release"]
            assert class_of(answer) == PREDICTS[name]
            seen[name] += 1
    # Binomial(1000, 0.2): mean 200, sigma 12.6; 4 sigma either side.
    assert set(seen) == {"v1", "v2"}
    assert 150 <= seen["v2"] <= 250, seen


def test_a_call_at_zero_replicas_is_answered_after_scale_up(
    up: UpProcess, namespace: str, models: str
) -> None:
    predictor = {
        "minReplicas": 0,
        "maxReplicas": 1,
        "template": {"metadata": {"annotations": {"autoscaling.knative.dev/window": "6s"}}},
    }
    apply(up, mlservice("cold", release("v1", f"pvc://{models}/iris/", **predictor)), namespace)
    wait_ready(up, "cold", namespace)

    def at_zero() -> bool:
        with up.client() as api:
            status = api.get("mlservice", "cold", namespace=namespace).get("status") or {}
        rows = status.get("releases") or [{}]
        return rows[0].get("totalReplicas") == 0 and bool(status.get("ready"))

    wait_until(at_zero, timeout=40, interval=0.2, message="the release to scale to zero")
    assert predict(up, f"cold.{namespace}.localhost", "cold", timeout=60) == PREDICTS["v1"]
    with up.client() as api:
        reasons = [f"{e['reason']}: {e['message']}" for e in api.list("event", namespace=namespace)]
    assert any(r.startswith("ScaledUp") and "a request is waiting" in r for r in reasons), reasons


def test_a_logged_model_infer_is_a_pair_of_cloudevents(
    up: UpProcess, namespace: str, models: str, tmp_path: Path
) -> None:
    sink = start_upstream("sink", tmp_path)
    try:
        logger = {"urls": [f"{sink.urls[0]}/events"], "mode": "all"}
        manifest = mlservice("logged", release("v1", f"pvc://{models}/iris/", logger=logger))
        apply(up, manifest, namespace)
        wait_ready(up, "logged", namespace)
        assert predict(up, f"logged.{namespace}.localhost", "logged") == PREDICTS["v1"]
        received = sink_records(sink)
    finally:
        sink.stop()
    request, response = request_and_response(received)
    for event in (request, response):
        assert event.get_source() == "logged-predict-v1"
        assert event.get_extension("inferenceurl") == MODEL_INFER
        assert event.get_extension("namespace") == namespace
        assert event.get_datacontenttype() == "application/x-protobuf"
    # The bodies as the sink got them: the messages, unframed (the event library reads a
    # non-JSON body as text, so the raw bytes come from the sink's record).
    bodies = {e["headers"]["ce-type"]: base64.b64decode(e["body"]) for e in received}
    sent = service_pb2.ModelInferRequest.FromString(bodies["tensorstack.dev.mlservice.request"])
    assert (sent.model_name, list(sent.inputs[0].shape)) == ("logged", [1, 4])
    answered = service_pb2.ModelInferResponse.FromString(
        bodies["tensorstack.dev.mlservice.response"]
    )
    assert class_of(answered) == PREDICTS["v1"]
