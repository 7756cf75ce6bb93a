"""The pure halves of revision handling: the renderer pins an InferenceService's rolled-out
revision from its status, the status keeps it while the canary runs, and Revisions find
their parent through their Configuration whichever is seen first."""

from __future__ import annotations

import copy
from typing import Any

from mlservice.cli.operator import status_of
from mlservice.controller.offline import render_object
from mlservice.engine.kube import RenderOptions
from mlservice.engine.kube.operator.children import Children
from mlservice.engine.kube.operator.observe import observe
from mlservice.naming import Hosts

NOW = "2026-01-01T00:00:00Z"
ISVC: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {
        "name": "iris",
        "namespace": "default",
        "uid": "uid-iris",
        "generation": 2,
        "annotations": {"serving.kserve.io/enable-tag-routing": "true"},
    },
    "spec": {"predictor": {"canaryTrafficPercent": 30, "sklearn": {"storageUri": "pvc://m/2"}}},
}
ROLLED = {"components": {"predictor": {"latestRolledoutRevision": "iris-predictor-00001"}}}


def _route(obj: dict[str, Any], mode: str = "knative") -> dict[str, Any]:
    options = RenderOptions(mode="knative" if mode == "knative" else "standard")
    children = render_object(obj, options=options)
    return next(
        c
        for c in children
        if c["kind"] in ("Route", "HTTPRoute") and c["metadata"]["name"] == "iris"
    )


def test_a_rolled_out_revision_is_pinned_beside_the_latest() -> None:
    assert _route(ISVC)["spec"]["traffic"] == [
        {"configurationName": "iris-predictor", "latestRevision": True, "percent": 100}
    ]  # offline, no status: the latest takes everything
    rolled = {**copy.deepcopy(ISVC), "status": ROLLED}
    assert _route(rolled)["spec"]["traffic"] == [
        {
            "configurationName": "iris-predictor",
            "latestRevision": True,
            "percent": 30,
            "tag": "latest",
        },
        {
            "revisionName": "iris-predictor-00001",
            "latestRevision": False,
            "percent": 70,
            "tag": "prev",
        },
    ]
    promoted = copy.deepcopy(rolled)
    promoted["spec"]["predictor"]["canaryTrafficPercent"] = 100
    assert [t["percent"] for t in _route(promoted)["spec"]["traffic"]] == [100]
    standard = _route(rolled, "standard")  # raw mode has no revisions to pin
    assert [b["weight"] for b in standard["spec"]["rules"][0]["backendRefs"]] == [100]


def _configuration(created: str, ready: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": {"name": "iris-predictor", "namespace": "default"},
        "spec": {"template": {"metadata": {"labels": {}}}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "latestCreatedRevisionName": created,
            "latestReadyRevisionName": ready,
        },
    }


def test_the_status_keeps_the_rolled_out_revision_while_the_canary_runs() -> None:
    parent = {**copy.deepcopy(ISVC), "status": ROLLED}
    seen = observe([_configuration("iris-predictor-00002", "iris-predictor-00002")])
    status = status_of(parent, seen, hosts=Hosts("example.com"), now=NOW)
    predictor = status["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00001"
    assert predictor["latestReadyRevision"] == "iris-predictor-00002"
    assert {(t["revisionName"], t["percent"]) for t in predictor["traffic"]} == {
        ("iris-predictor-00002", 30),
        ("iris-predictor-00001", 70),
    }
    promoted = copy.deepcopy(parent)
    del promoted["spec"]["predictor"]["canaryTrafficPercent"]
    status = status_of(promoted, seen, hosts=Hosts("example.com"), now=NOW)
    predictor = status["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00002"
    assert predictor["previousRolledoutRevision"] == "iris-predictor-00001"


def _child(kind: str, name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", **meta},
    }


def test_a_revision_belongs_to_the_parent_of_its_configuration() -> None:
    children = Children()
    owner = {"ownerReferences": [{"uid": "uid-iris", "controller": True}]}
    made_by = {"labels": {"serving.knative.dev/configuration": "iris-predictor"}}
    revision = _child("Revision", "iris-predictor-00001", **made_by)
    assert children.seen(revision, gone=False) is None  # its Configuration not seen yet
    config = _child("Configuration", "iris-predictor", **owner)
    assert children.seen(config, gone=False) == "uid-iris"
    assert children.of("uid-iris") == [config, revision]
    assert children.seen(revision, gone=True) == "uid-iris"
    assert children.of("uid-iris") == [config]
    assert children.seen(_child("Revision", "stray"), gone=False) is None
