"""What children report, read as our status by the operator's wiring (pure: no API, no kopf)."""

from __future__ import annotations

from typing import Any

from mlservice.cli.operator import status_of
from mlservice.engine.kube.operator.observe import Problem, observe
from mlservice.engine.kube.operator.reconcile import merge_patch
from mlservice.naming import COMPONENT_LABEL, RELEASE_LABEL, Hosts
from tests.engine.kube.operator.scenario import condition, mlservice, release

HOSTS = Hosts("example.com")
NOW = "2026-01-01T00:00:00Z"


def _child(kind: str, api: str, name: str, status: dict[str, Any], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": labels}}},
        "status": status,
    }


def _deployment(name: str, ready: int, **labels: str) -> dict[str, Any]:
    status = {"replicas": 2, "readyReplicas": ready}
    return _child("Deployment", "apps/v1", name, status, **{COMPONENT_LABEL: "predict", **labels})


SIMPLE = {
    "apiVersion": "tensorstack.dev/v1beta1",
    "kind": "SimpleMLService",
    "metadata": {"name": "mnist", "namespace": "default", "uid": "u", "generation": 3},
    "spec": {"replicas": 2, "custom": {"spec": {"containers": [{"name": "user-container"}]}}},
}


def test_a_simple_service_is_ready_once_its_deployment_has_every_replica_ready() -> None:
    half = status_of(SIMPLE, observe([_deployment("mnist", 1)]), hosts=HOSTS, now=NOW)
    assert half["ready"] is False
    assert (half["readyReplicas"], half["replicas"]) == (1, 2)
    full = status_of(SIMPLE, observe([_deployment("mnist", 2)]), hosts=HOSTS, now=NOW)
    ready = condition({"status": full}, "Ready")
    assert ready == {
        "type": "Ready",
        "status": "True",
        "reason": "MinimumReplicasAvailable",
        "message": "2/2 replicas ready.",
        "lastTransitionTime": NOW,
    }
    assert full["observedGeneration"] == 3


def test_a_failed_knative_configuration_is_the_release_reason() -> None:
    svc = mlservice("iris", release("v1"))
    failed = {
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "bad image"}
        ],
        "latestCreatedRevisionName": "iris-predict-v1-00001",
    }
    config = _child(
        "Configuration",
        "serving.knative.dev/v1",
        "iris-predict-v1",
        failed,
        **{COMPONENT_LABEL: "predict", RELEASE_LABEL: "v1"},
    )
    status = status_of(svc, observe([config]), hosts=HOSTS, now=NOW)
    ready = condition({"status": status}, "Ready") or {}
    assert (ready["status"], ready["reason"]) == ("False", "RevisionFailed")
    assert ready["message"] == "Release v1: bad image"


def test_a_render_problem_keeps_the_status_shape_with_ready_false() -> None:
    svc = mlservice("iris", release("v1"))
    status = status_of(svc, Problem("NotRenderable", "spec.x: no"), hosts=HOSTS, now=NOW)
    assert status["releases"][0]["name"] == "v1"
    ready = condition({"status": status}, "Ready") or {}
    assert (ready["status"], ready["reason"]) == ("False", "NotRenderable")


def test_an_inferenceservice_takes_its_urls_from_the_route() -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": "default", "uid": "u", "generation": 1},
        "spec": {"predictor": {"sklearn": {"storageUri": "pvc://models/iris"}}},
    }
    ready = {
        "conditions": [{"type": "Ready", "status": "True"}],
        "latestCreatedRevisionName": "iris-predictor-00001",
        "latestReadyRevisionName": "iris-predictor-00001",
    }
    config = _child(
        "Configuration",
        "serving.knative.dev/v1",
        "iris-predictor",
        ready,
        **{COMPONENT_LABEL: "predict"},
    )
    route = _child(
        "Route",
        "serving.knative.dev/v1",
        "iris-predictor",
        {"conditions": [{"type": "Ready", "status": "True"}], "url": "http://iris.default.ml"},
    )
    status = status_of(isvc, observe([config, route]), hosts=HOSTS, now=NOW)
    assert status["url"] == status["address"]["url"] == "http://iris.default.ml"
    assert (condition({"status": status}, "Ready") or {})["status"] == "True"
    assert status["components"]["predictor"]["latestReadyRevision"] == "iris-predictor-00001"


def test_merge_patch_nulls_what_the_new_status_lacks() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    new = {"a": 1, "b": {"c": 2}, "e": [2], "f": None}
    assert merge_patch(old, new) == {"b": {"d": None}, "e": [2], "f": None}
