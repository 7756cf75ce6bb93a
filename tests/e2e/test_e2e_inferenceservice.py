"""KServe's InferenceService end to end: a real `mls up` selects the built-in sklearn
ClusterServingRuntime, serves the iris model from a volume under the InferenceService's name,
and answers V1 and V2 (tritonclient's too) through the gateway on KServe's hosts, sending
KServe's logger CloudEvents to a sink."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
import yaml

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import V2_ROW, condition, wait_for
from tests.gateway.gateway_procs import start_upstream
from tests.support.polling import wait_until
from tests.support.up import apply, mls_on

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TRANSFORMER = Path(__file__).parents[1] / "server" / "models" / "transformer"


def sklearn_isvc(name: str, uri: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name},
            "spec": {"predictor": {"sklearn": {"storageUri": uri}}},
        }
    )


def is_ready(obj: dict) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_sklearn_isvc_from_a_volume_serves_v1_and_v2_through_the_gateway(
    up: UpProcess, namespace: str, volume: str
) -> None:
    apply(up, sklearn_isvc("iris", f"pvc://{volume}/iris"), namespace)
    obj = wait_for(up, "iris", namespace, is_ready, kind="isvc", timeout=60)
    status = obj["status"]
    gateway = json.loads(up.home.endpoints.read_text())["gateway"]
    port = httpx.URL(gateway).port
    assert status["url"] == f"http://iris.{namespace}.localhost:{port}"
    predictor = status["components"]["predictor"]
    assert predictor["latestReadyRevision"] == "iris-predictor-00001"
    assert predictor["traffic"] == [
        {"revisionName": "iris-predictor-00001", "percent": 100, "latestRevision": True}
    ]
    assert status["modelStatus"]["transitionStatus"] == "UpToDate"
    assert condition(obj, "PredictorReady")["status"] == "True"

    row = V2_ROW["inputs"][0]["data"]
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for host in (f"iris.{namespace}.localhost", f"iris-predictor.{namespace}.localhost"):
            v1 = client.post(
                "/v1/models/iris:predict", json={"instances": [row]}, headers={"Host": host}
            )
            assert v1.status_code == 200, v1.text
            assert v1.json() == {"predictions": [1]}  # versicolor
            v2 = client.post("/v2/models/iris/infer", json=V2_ROW, headers={"Host": host})
            assert v2.status_code == 200, v2.text
            assert v2.json()["model_name"] == "iris"
            assert v2.json()["outputs"][0]["data"] == [1]

    shown = mls_on(up, "get", "isvc", "-n", namespace).stdout.splitlines()
    assert shown[0].split()[:3] == ["NAME", "URL", "READY"]
    assert shown[1].split()[:4] == ["iris", status["url"], "True", "100"]
    described = mls_on(up, "describe", "isvc", "iris", "-n", namespace)
    assert described.returncode == 0, described.stderr
    for expected in ("iris-predictor-00001", "PredictorReady", "RevisionReady", "100"):
        assert expected in described.stdout


def test_a_format_without_runtime_reports_kserves_reason(up: UpProcess, namespace: str) -> None:
    # tensorflow: KServe's own runtime for it is a TensorFlow Serving image, none here.
    manifest = sklearn_isvc("tf", "pvc://nowhere/x").replace("sklearn", "tensorflow")
    apply(up, manifest, namespace)

    def failed(obj: dict) -> bool:
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c.get("reason") for c in conditions)

    obj = wait_for(up, "tf", namespace, failed, kind="isvc", timeout=30)
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NoSupportingRuntime")
    assert obj["status"]["modelStatus"]["lastFailureInfo"]["reason"] == "NoSupportingRuntime"


def test_canary_splits_traffic_between_revisions_then_promotes(
    up: UpProcess, namespace: str, volume: str
) -> None:
    second = up.home.volume(volume) / "iris2"
    second.mkdir()
    (second / "model.joblib").write_bytes(
        (up.home.volume(volume) / "iris/model.joblib").read_bytes()
    )
    apply(up, sklearn_isvc("iris", f"pvc://{volume}/iris"), namespace)
    wait_for(up, "iris", namespace, is_ready, kind="isvc", timeout=60)

    canary = yaml.safe_load(sklearn_isvc("iris", f"pvc://{volume}/iris2"))
    canary["spec"]["predictor"]["canaryTrafficPercent"] = 50
    apply(up, canary, namespace)

    def split(obj: dict) -> bool:
        traffic = obj["status"]["components"]["predictor"].get("traffic") or []
        return len(traffic) == 2

    wait_for(up, "iris", namespace, split, kind="isvc", timeout=60)
    gateway = json.loads(up.home.endpoints.read_text())["gateway"]
    served = []
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for _ in range(40):
            answer = client.post(
                "/v1/models/iris:predict",
                json={"instances": [V2_ROW["inputs"][0]["data"]]},
                headers={"Host": f"iris.{namespace}.localhost"},
            )
            assert answer.status_code == 200, answer.text
            served.append(answer.headers["x-mls-release"])
    # 40 requests at 50/50: each side gets at least 5 with probability 1 - 2e-6.
    assert served.count("iris-predictor-00001") >= 5
    assert served.count("iris-predictor-00002") >= 5
    shown = mls_on(up, "get", "isvc", "iris", "-n", namespace).stdout.splitlines()
    assert shown[1].split()[3:5] == ["50", "50"]

    del canary["spec"]["predictor"]["canaryTrafficPercent"]
    apply(up, canary, namespace)

    def promoted(obj: dict) -> bool:
        predictor = obj["status"]["components"]["predictor"]
        return predictor.get("previousRolledoutRevision") == "iris-predictor-00001"

    obj = wait_for(up, "iris", namespace, promoted, kind="isvc", timeout=60)
    assert obj["status"]["components"]["predictor"]["traffic"] == [
        {"revisionName": "iris-predictor-00002", "percent": 100, "latestRevision": True}
    ]


def test_a_transformer_fronts_the_predictor(
    up: UpProcess, namespace: str, volume: str, tmp_path: Path
) -> None:
    code = tmp_path / "transformer"
    shutil.copytree(TRANSFORMER, code)
    manifest = yaml.safe_load(sklearn_isvc("iris", f"pvc://{volume}/iris"))
    manifest["spec"]["transformer"] = {
        "containers": [
            {
                "name": "kserve-container",
                "image": "my/transformer",
                "command": ["mls", "serve", str(code)],
            }
        ]
    }
    apply(up, manifest, namespace)
    obj = wait_for(up, "iris", namespace, is_ready, kind="isvc", timeout=90)
    assert condition(obj, "TransformerReady")["status"] == "True"
    assert obj["status"]["components"]["transformer"]["latestReadyRevision"] == (
        "iris-transformer-00001"
    )
    gateway = json.loads(up.home.endpoints.read_text())["gateway"]
    row = V2_ROW["inputs"][0]["data"]
    with httpx.Client(base_url=gateway, timeout=30) as client:
        chained = client.post(
            "/v1/models/iris:predict",
            json={"instances": [row]},
            headers={"Host": f"iris.{namespace}.localhost"},
        )
        assert chained.status_code == 200, chained.text
        assert chained.json()["transformed"] is True
        assert chained.headers["x-mls-release"] == "iris-predictor-00001"
        direct = client.post(
            "/v1/models/iris:predict",
            json={"instances": [row]},
            headers={"Host": f"iris-predictor.{namespace}.localhost"},
        )
        assert direct.json() == {"predictions": [1]}


def test_a_predictor_logger_sends_kserves_cloudevents_to_its_sink(
    up: UpProcess, namespace: str, volume: str, tmp_path: Path
) -> None:
    sink = start_upstream("sink", tmp_path)
    try:
        manifest = yaml.safe_load(sklearn_isvc("iris", f"pvc://{volume}/iris"))
        manifest["spec"]["predictor"]["logger"] = {"url": f"{sink.urls[0]}/events", "mode": "all"}
        apply(up, manifest, namespace)
        wait_for(up, "iris", namespace, is_ready, kind="isvc", timeout=60)
        gateway = json.loads(up.home.endpoints.read_text())["gateway"]
        row = V2_ROW["inputs"][0]["data"]
        answer = httpx.post(
            f"{gateway}/v1/models/iris:predict",
            json={"instances": [row]},
            headers={"Host": f"iris.{namespace}.localhost"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        received = wait_until(
            lambda: (r := httpx.get(f"{sink.urls[0]}/events").json()) and len(r) >= 2 and r,
            timeout=20,
            message="the request and response events at the sink",
        )
    finally:
        sink.stop()
    assert len(received) == 2
    by_type = {e["headers"]["ce-type"]: e for e in received}
    request = by_type["org.kubeflow.serving.inference.request"]
    response = by_type["org.kubeflow.serving.inference.response"]
    assert request["headers"]["ce-id"] == response["headers"]["ce-id"]
    for event in (request, response):
        headers = event["headers"]
        assert headers["ce-specversion"] == "1.0"
        assert headers["ce-source"] == "http://localhost:9081/"
        assert headers["ce-inferenceservicename"] == "iris"
        assert headers["ce-namespace"] == namespace
        assert headers["ce-component"] == "predictor"
        assert headers["ce-endpoint"] == ""
        assert not {"ce-mlservicename", "ce-inferenceurl"} & set(headers)
    assert json.loads(base64.b64decode(request["body"])) == {"instances": [row]}
    assert json.loads(base64.b64decode(response["body"])) == {"predictions": [1]}

    def shown() -> str | None:
        out = mls_on(up, "logs", "iris", "--requests", "-n", namespace).stdout
        return out if out.count("Context Attributes,") == 2 else None

    text = wait_until(shown, timeout=10, message="both events in `mls logs --requests`")
    assert "type: org.kubeflow.serving.inference.response" in text
    assert "inferenceservicename: iris" in text
    assert "component: predictor" in text


def test_tritonclient_http_speaks_v2_to_an_isvc_through_the_gateway(
    up: UpProcess, namespace: str, volume: str
) -> None:
    manifest = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris-v2"},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "protocolVersion": "v2",
                    "storageUri": f"pvc://{volume}/iris",
                }
            }
        },
    }
    apply(up, manifest, namespace)
    wait_for(up, "iris-v2", namespace, is_ready, kind="isvc", timeout=60)
    gateway = httpx.URL(json.loads(up.home.endpoints.read_text())["gateway"])
    host = {"Host": f"iris-v2.{namespace}.localhost"}
    rows = np.array([V2_ROW["inputs"][0]["data"]], dtype=np.float64)
    client = triton.InferenceServerClient(url=f"{gateway.host}:{gateway.port}")
    try:
        assert client.is_server_live(headers=host)
        assert client.is_model_ready("iris-v2", headers=host)
        assert not client.is_model_ready("iris", headers=host)
        for binary in (True, False):
            tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
            tensor.set_data_from_numpy(rows, binary_data=binary)
            wanted = [triton.InferRequestedOutput("predict", binary_data=binary)]
            # A copy: tritonclient adds Inference-Header-Content-Length to the dict it is given.
            result = client.infer("iris-v2", [tensor], outputs=wanted, headers=dict(host))
            assert result.get_response()["model_name"] == "iris-v2"
            assert result.as_numpy("predict").tolist() == [1]  # versicolor
    finally:
        client.close()
