"""Issue 19 through the platform: a real `mls up` serving a model repository.

An MLService whose modelUri names a folder of model folders serves each model by name on the
service's host, one replica set for all.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import V2_ROW, mlservice_yaml, wait_for
from tests.server.test_repository import make_repository
from tests.support.polling import wait_until
from tests.support.up import apply, mls_on

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x, y


def ready(obj: dict[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("ready"))


def test_two_models_of_one_repository_answer_by_name_through_the_gateway(
    up: UpProcess, namespace: str, iris: tuple[Any, Any]
) -> None:
    make_repository(up.home.volume(namespace) / "repo", iris, ("alpha", "beta"))
    apply(up, mlservice_yaml("models", f"pvc://{namespace}/repo/"), namespace)
    wait_for(up, "models", namespace, ready, timeout=60)
    gateway = json.loads(up.home.endpoints.read_text())["gateway"]
    host = {"Host": f"models.{namespace}.localhost"}
    with httpx.Client(base_url=gateway, timeout=30, headers=host) as client:
        for name, label in (("alpha", 0), ("beta", 1)):
            answer = client.post(f"/v2/models/{name}/infer", json=V2_ROW)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_name"] == name
            assert answer.json()["outputs"][0]["data"] == [label]
        assert client.post("/v2/models/gamma/infer", json=V2_ROW).status_code == 404
        index = client.post("/v2/repository/index").json()
        assert [(m["name"], m["state"]) for m in index] == [("alpha", "READY"), ("beta", "READY")]


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_a_trainedmodel_is_loaded_into_running_replicas_without_a_restart(
    up: UpProcess, namespace: str, iris: tuple[Any, Any]
) -> None:
    volume = up.home.volume(namespace)
    make_repository(volume / "repo", iris, ("alpha",))
    make_repository(volume / "extra", iris, ("zero", "one", "two"))  # "two" answers 2
    apply(up, sklearn_isvc("shop", f"pvc://{namespace}/repo/"), namespace)
    wait_for(up, "shop", namespace, is_ready, kind="isvc", timeout=60)
    (pidfile,) = (up.home.replicas / namespace / "shop-predictor-00001").glob(
        "*/kserve-container.pid"
    )
    pid = json.loads(pidfile.read_text())["pid"]
    gateway = json.loads(up.home.endpoints.read_text())["gateway"]
    client = httpx.Client(
        base_url=gateway, timeout=30, headers={"Host": f"shop.{namespace}.localhost"}
    )
    with client:
        assert client.post("/v2/models/gamma/infer", json=V2_ROW).status_code == 404

        apply(up, trained_model("gamma", "shop", f"pvc://{namespace}/extra/two/"), namespace)
        tm = wait_for(up, "gamma", namespace, is_ready, kind="trainedmodel", timeout=30)
        assert tm["status"]["url"].endswith("/v1/models/gamma:predict")
        assert tm["status"]["url"].startswith(f"http://shop.{namespace}.localhost")
        listed = mls_on(up, "get", "tm", "-n", namespace).stdout.splitlines()
        assert listed[0].split() == ["NAME", "URL", "READY", "AGE"]
        assert listed[1].split()[:3] == ["gamma", tm["status"]["url"], "True"]
        answer = client.post("/v2/models/gamma/infer", json=V2_ROW)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == [2]
        assert client.post("/v2/models/alpha/infer", json=V2_ROW).status_code == 200
        assert json.loads(pidfile.read_text())["pid"] == pid  # the same process serves it

        with up.client() as api:
            api.delete("trainedmodel", "gamma", namespace=namespace)

        def gone() -> bool:
            return client.post("/v2/models/gamma/infer", json=V2_ROW).status_code == 404

        wait_until(gone, timeout=20, message="the TrainedModel's model to be unloaded")
        assert not (volume / "repo" / "gamma").exists()
        assert json.loads(pidfile.read_text())["pid"] == pid


def sklearn_isvc(name: str, uri: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": {"sklearn": {"storageUri": uri}}},
    }


def trained_model(name: str, isvc: str, uri: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "TrainedModel",
        "metadata": {"name": name},
        "spec": {
            "inferenceService": isvc,
            "model": {"storageUri": uri, "framework": "sklearn", "memory": "64Mi"},
        },
    }
