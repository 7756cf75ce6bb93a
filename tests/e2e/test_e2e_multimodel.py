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
from tests.support.up import apply

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
