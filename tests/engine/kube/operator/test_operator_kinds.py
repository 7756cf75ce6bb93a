"""The other parents: a SimpleMLService (a Deployment in both modes) and, with
`--kserve-kinds`, an InferenceService; without the flag KServe's kinds are left alone."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.engine.kube.operator.kube_mock import KubeMock, operator
from tests.engine.kube.operator.scenario import (
    KNATIVE,
    NS,
    OURS,
    condition,
    eventually,
    mlservice,
    release,
)
from tests.engine.kube.operator.written import assert_valid, written

SIMPLE = {
    "apiVersion": OURS,
    "kind": "SimpleMLService",
    "metadata": {"name": "mnist", "namespace": NS, "uid": "uid-mnist", "generation": 1},
    "spec": {
        "replicas": 2,
        "custom": {
            "spec": {
                "containers": [
                    {
                        "name": "user-container",
                        "image": "registry.example/mnist:1",
                        "args": ["--port=$(PORT)"],
                    }
                ]
            }
        },
    },
}
ISVC = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "iris", "namespace": NS, "uid": "uid-iris", "generation": 1},
    "spec": {"predictor": {"sklearn": {"storageUri": "pvc://models/iris"}}},
}


def _ready(kube: KubeMock, obj: dict[str, Any], revision: str) -> None:
    status = {
        "conditions": [{"type": "Ready", "status": "True"}],
        "latestCreatedRevisionName": revision,
        "latestReadyRevisionName": revision,
        "url": "http://iris.default.ml.example",
    }
    kube.patch(obj, {"status": status}, status=True)


def test_a_simple_service_is_a_deployment_ready_with_its_replicas(
    kube: KubeMock, tmp_path: Path
) -> None:
    with operator(kube, tmp_path) as log:
        kube.create(SIMPLE)
        eventually(lambda: kube.get("v1", "services", NS, "mnist"), "the Service", log)
        deployment = eventually(
            lambda: kube.get("apps/v1", "deployments", NS, "mnist"), "the Deployment", log
        )
        assert deployment["metadata"]["ownerReferences"][0]["uid"] == "uid-mnist"
        assert deployment["spec"]["replicas"] == 2

        def ready() -> dict[str, Any]:
            return condition(kube.get(OURS, "simplemlservices", NS, "mnist"), "Ready") or {}

        status = {"replicas": 2, "readyReplicas": 1}
        kube.patch(deployment, {"status": status}, status=True)
        eventually(lambda: ready().get("message") == "1/2 replicas ready.", "1 of 2 ready", log)
        assert ready()["status"] == "False"
        kube.patch(deployment, {"status": {"readyReplicas": 2}}, status=True)
        eventually(lambda: ready().get("status") == "True", "Ready with both replicas", log)
        assert ready()["reason"] == "MinimumReplicasAvailable"
    for obj in written(kube.handler):
        assert_valid(obj)


def test_an_inferenceservice_is_reconciled_only_with_kserve_kinds(
    kube: KubeMock, tmp_path: Path
) -> None:
    kube.create(ISVC)
    with operator(kube, tmp_path) as log:
        # An MLService created after the InferenceService is reconciled: had the
        # InferenceService been watched, it would have been by then.
        kube.create(mlservice("after", release("v1")))
        eventually(lambda: kube.get(KNATIVE, "routes", NS, "after"), "the MLService's Route", log)
    assert kube.get(KNATIVE, "configurations", NS, "iris-predictor") is None
    assert "iris" not in str(written(kube.handler))

    with operator(kube, tmp_path, "--kserve-kinds") as log:
        route = eventually(lambda: kube.get(KNATIVE, "routes", NS, "iris"), "the Route", log)
        config = eventually(
            lambda: kube.get(KNATIVE, "configurations", NS, "iris-predictor"),
            "the predictor's Configuration",
            log,
        )
        for child in (config, route):
            assert child["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
        _ready(kube, config, "iris-predictor-00001")
        _ready(kube, route, "iris-predictor-00001")

        def isvc() -> dict[str, Any]:
            return copy.deepcopy(
                kube.get("serving.kserve.io/v1beta1", "inferenceservices", NS, "iris") or {}
            )

        eventually(lambda: (condition(isvc(), "Ready") or {}).get("status") == "True", "Ready", log)
        status = isvc()["status"]
        assert status["url"] == "http://iris.default.ml.example"
        assert status["modelStatus"]["transitionStatus"] == "UpToDate"
        assert status["components"]["predictor"]["latestReadyRevision"] == "iris-predictor-00001"
    for obj in written(kube.handler):
        assert_valid(obj)
