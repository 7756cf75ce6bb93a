"""`mls operator --mode standard` against kmock: Deployments, HPAs and HTTPRoutes owned by the
MLService, Deployment readiness and HTTPRoute acceptance driving its status; `minReplicas: 0`
refused as a condition (issue 17's acceptance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.engine.kube.operator.kube_mock import KubeMock, operator
from tests.engine.kube.operator.scenario import (
    NS,
    OURS,
    condition,
    eventually,
    mlservice,
    release,
)
from tests.engine.kube.operator.written import assert_valid, written

APPS = "apps/v1"
GATEWAY = "gateway.networking.k8s.io/v1"
HPA = "autoscaling/v2"
DEPLOYMENTS = ("iris-predict-v1", "iris-predict-v2")
ROUTES = ("iris", "iris-predict-v1", "iris-predict-v2")


def _accepted(kube: KubeMock, route: dict[str, Any]) -> None:
    parent = {
        "parentRef": route["spec"]["parentRefs"][0],
        "controllerName": "example.com/gateway",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}],
    }
    kube.patch(route, {"status": {"parents": [parent]}}, status=True)


def _pods(kube: KubeMock, name: str, ready: int) -> None:
    deployment = kube.get(APPS, "deployments", NS, name)
    assert deployment is not None
    status = {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready}
    kube.patch(deployment, {"status": status}, status=True)


def test_standard_mode_children_and_readiness(kube: KubeMock, tmp_path: Path) -> None:
    svc = mlservice("iris", release("v1"), release("v2"), canary="v2", canaryTrafficPercent=30)
    with operator(kube, tmp_path, "--mode", "standard") as log:
        kube.create(svc)
        wanted = [
            *((APPS, "deployments", n) for n in DEPLOYMENTS),
            *(("v1", "services", n) for n in DEPLOYMENTS),
            *((HPA, "horizontalpodautoscalers", n) for n in DEPLOYMENTS),
            *((GATEWAY, "httproutes", n) for n in ROUTES),
        ]

        def children() -> list[dict[str, Any]] | None:
            found = [kube.get(api, plural, NS, name) for api, plural, name in wanted]
            return [c for c in found if c] if all(found) else None

        for child in eventually(children, "Deployments, Services, HPAs and HTTPRoutes", log):
            [owner] = child["metadata"]["ownerReferences"]
            assert (owner["uid"], owner["controller"]) == ("uid-iris", True), child["kind"]
        split = kube.get(GATEWAY, "httproutes", NS, "iris") or {}
        weights = {b["name"]: b["weight"] for b in split["spec"]["rules"][0]["backendRefs"]}
        assert weights == {"iris-predict-v1": 70, "iris-predict-v2": 30}

        def service() -> dict[str, Any]:
            return kube.get(OURS, "mlservices", NS, "iris") or {}

        def ready_is(value: str, reason: str = "") -> bool:
            found = condition(service(), "Ready") or {}
            return found.get("status") == value and (not reason or found.get("reason") == reason)

        for name in ROUTES:
            _accepted(kube, kube.get(GATEWAY, "httproutes", NS, name) or {})
        _pods(kube, "iris-predict-v1", ready=1)
        eventually(
            lambda: ready_is("False") and "Release v2" in str(condition(service(), "Ready")),
            "Ready False naming the canary, the one release without a ready pod",
            log,
        )

        _pods(kube, "iris-predict-v2", ready=1)
        eventually(lambda: ready_is("True"), "Ready once both Deployments have a ready pod", log)
        rows = {r["name"]: r for r in service()["status"]["releases"]}
        assert {n: (r["readyReplicas"], r["trafficPercent"]) for n, r in rows.items()} == {
            "v1": (1, 70),
            "v2": (1, 30),
        }

        _pods(kube, "iris-predict-v2", ready=0)
        eventually(lambda: ready_is("False"), "Ready False when the canary loses its pod", log)

        kube.create(mlservice("idle", release("v1", minReplicas=0)))
        eventually(
            lambda: (
                (condition(kube.get(OURS, "mlservices", NS, "idle"), "Ready") or {}).get("reason")
                == "NotRenderable"
            ),
            "minReplicas: 0 refused as a condition",
            log,
        )
        refused = condition(kube.get(OURS, "mlservices", NS, "idle"), "Ready") or {}
        assert "minReplicas" in refused["message"]
        assert kube.get(APPS, "deployments", NS, "idle-predict-v1") is None

    sent = written(kube.handler)
    assert {o["kind"] for o in sent} == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "HTTPRoute",
    }
    for obj in sent:
        assert_valid(obj)
