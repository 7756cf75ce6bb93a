"""Knative revisions through the operator: an InferenceService's canary pins the revision
rolled out before in the Route (KServe's semantics), and each Revision's pods are a
release's `readyReplicas`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.engine.kube.operator.kube_mock import KubeMock, operator
from tests.engine.kube.operator.scenario import (
    KNATIVE,
    NS,
    OURS,
    eventually,
    mlservice,
    ready_condition,
    release,
)
from tests.engine.kube.operator.written import assert_valid, written

KSERVE = "serving.kserve.io/v1beta1"
ISVC = {
    "apiVersion": KSERVE,
    "kind": "InferenceService",
    "metadata": {"name": "iris", "namespace": NS, "uid": "uid-iris", "generation": 1},
    "spec": {"predictor": {"sklearn": {"storageUri": "pvc://models/iris/1"}}},
}
FIRST, SECOND = "iris-predictor-00001", "iris-predictor-00002"


def _knative_ready(kube: KubeMock, obj: dict[str, Any], *, created: str, ready: str) -> None:
    status = {
        "conditions": ready_condition(),
        "latestCreatedRevisionName": created,
        "latestReadyRevisionName": ready,
        "url": "http://iris.default.example.com",
    }
    kube.patch(obj, {"status": status}, status=True)


def test_an_inferenceservice_canary_pins_the_rolled_out_revision_until_promoted(
    kube: KubeMock, tmp_path: Path
) -> None:
    with operator(kube, tmp_path, "--kserve-kinds") as log:
        kube.create(ISVC)

        def isvc() -> dict[str, Any]:
            return copy.deepcopy(kube.get(KSERVE, "inferenceservices", NS, "iris") or {})

        def predictor() -> dict[str, Any]:
            return dict(
                ((isvc().get("status") or {}).get("components") or {}).get("predictor") or {}
            )

        def traffic() -> list[dict[str, Any]]:
            return list(
                (kube.get(KNATIVE, "routes", NS, "iris") or {"spec": {}})["spec"].get("traffic", [])
            )

        config = eventually(
            lambda: kube.get(KNATIVE, "configurations", NS, "iris-predictor"),
            "the Configuration",
            log,
        )
        route = eventually(lambda: kube.get(KNATIVE, "routes", NS, "iris"), "the Route", log)
        assert traffic() == [
            {"configurationName": "iris-predictor", "latestRevision": True, "percent": 100}
        ]
        _knative_ready(kube, config, created=FIRST, ready=FIRST)
        _knative_ready(kube, route, created=FIRST, ready=FIRST)
        eventually(
            lambda: predictor().get("latestRolledoutRevision") == FIRST,
            "revision 1 rolled out",
            log,
        )

        # A new model with a canary: the latest revision gets 20 %, revision 1 the rest.
        canary = {"sklearn": {"storageUri": "pvc://models/iris/2"}, "canaryTrafficPercent": 20}
        kube.patch(isvc(), {"metadata": {"generation": 2}, "spec": {"predictor": canary}})
        split = [
            {"configurationName": "iris-predictor", "latestRevision": True, "percent": 20},
            {"revisionName": FIRST, "latestRevision": False, "percent": 80},
        ]
        eventually(lambda: traffic() == split, "the Route split 20/80 with revision 1 pinned", log)
        template = kube.get(KNATIVE, "configurations", NS, "iris-predictor")
        assert template is not None
        assert "iris/2" in str(template["spec"]["template"])

        # Knative makes revision 2 and readies it: revision 1 stays the rolled-out one.
        _knative_ready(kube, config, created=SECOND, ready=SECOND)
        eventually(
            lambda: predictor().get("latestReadyRevision") == SECOND, "revision 2 ready", log
        )
        assert predictor()["latestRolledoutRevision"] == FIRST
        assert {(t["revisionName"], t["percent"]) for t in predictor()["traffic"]} == {
            (SECOND, 20),
            (FIRST, 80),
        }
        assert traffic() == split  # still pinned to revision 1, not to the newly ready one

        # Promote: no canaryTrafficPercent, the latest revision takes everything.
        promote = {"predictor": {"canaryTrafficPercent": None}}
        kube.patch(isvc(), {"metadata": {"generation": 3}, "spec": promote})
        eventually(
            lambda: (
                traffic()
                == [{"configurationName": "iris-predictor", "latestRevision": True, "percent": 100}]
            ),
            "the Route at 100 % latest",
            log,
        )
        eventually(
            lambda: predictor().get("latestRolledoutRevision") == SECOND,
            "revision 2 rolled out",
            log,
        )
        assert predictor()["previousRolledoutRevision"] == FIRST
    for obj in written(kube.handler):
        assert_valid(obj)


def test_a_revisions_pods_are_its_releases_ready_replicas(kube: KubeMock, tmp_path: Path) -> None:
    with operator(kube, tmp_path) as log:
        kube.create(mlservice("solo", release("v1")))
        config = eventually(
            lambda: kube.get(KNATIVE, "configurations", NS, "solo-predict-v1"), "the child", log
        )
        revision_name = "solo-predict-v1-00001"
        # As Knative makes it: the template's labels, its Configuration's name, owned by it.
        labels = {
            **config["spec"]["template"]["metadata"]["labels"],
            "serving.knative.dev/configuration": "solo-predict-v1",
        }
        revision = {
            "apiVersion": KNATIVE,
            "kind": "Revision",
            "metadata": {
                "name": revision_name,
                "namespace": NS,
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": KNATIVE,
                        "kind": "Configuration",
                        "name": "solo-predict-v1",
                        "uid": "uid-config",
                        "controller": True,
                    }
                ],
            },
        }
        kube.create(revision)
        kube.patch(revision, {"status": {"actualReplicas": 2, "desiredReplicas": 3}}, status=True)
        status = {
            "conditions": ready_condition(),
            "latestCreatedRevisionName": revision_name,
            "latestReadyRevisionName": revision_name,
        }
        kube.patch(config, {"status": status}, status=True)

        def row() -> dict[str, Any]:
            parent = kube.get(OURS, "mlservices", NS, "solo") or {}
            rows = (parent.get("status") or {}).get("releases") or [{}]
            return dict(rows[0])

        eventually(
            lambda: (row().get("readyReplicas"), row().get("totalReplicas")) == (2, 3),
            "2 of 3 pods ready",
            log,
        )
        kube.patch(revision, {"status": {"actualReplicas": 3}}, status=True)
        eventually(lambda: row().get("readyReplicas") == 3, "3 pods ready", log)
        assert row()["ready"] is True
