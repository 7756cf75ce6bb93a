"""KServe's InferenceService end to end: a real `mls up` selects the built-in sklearn
ClusterServingRuntime, serves the iris model from a volume under the InferenceService's name,
and answers V1 and V2 through the gateway on KServe's hosts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import V2_ROW, condition, wait_for
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
    apply(up, sklearn_isvc("torch", "pvc://nowhere/x").replace("sklearn", "pytorch"), namespace)

    def failed(obj: dict) -> bool:
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c.get("reason") for c in conditions)

    obj = wait_for(up, "torch", namespace, failed, kind="isvc", timeout=30)
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
