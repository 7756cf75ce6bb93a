"""`mls operator` in knative mode against kmock: children, ownership, status, canary changes,
runtime rollouts and render errors (issue 17's acceptance)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from mlservice.controller.offline import render_object
from mlservice.engine.kube import RenderOptions
from mlservice.engine.kube.operator.reconcile import APPLIED
from tests.engine.kube.operator.kube_mock import KubeMock, operator
from tests.engine.kube.operator.scenario import (
    KNATIVE,
    NS,
    OURS,
    condition,
    eventually,
    mlservice,
    ready_condition,
    release,
)
from tests.engine.kube.operator.written import assert_valid, events_posted, written

CANARY = mlservice("fraud", release("v1"), release("v2"), canary="v2", canaryTrafficPercent=20)
CONFIGS = ("fraud-predict-v1", "fraud-predict-v2")


def _rendered(parent: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (o["kind"], o["metadata"]["name"]): o
        for o in render_object(parent, runtimes=[], options=RenderOptions(mode="knative"))
    }


def _as_rendered(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored child without what the operator adds to the renderer's output."""
    out = copy.deepcopy(stored)
    out.pop("status", None)
    meta = out["metadata"]
    meta.pop("ownerReferences")
    meta["annotations"].pop(APPLIED)
    if not meta["annotations"]:
        del meta["annotations"]
    return out


def _route_ready(kube: KubeMock, route: dict[str, Any]) -> None:
    traffic = [
        {**t, "revisionName": f"{t['configurationName']}-00001", "url": f"http://{t['tag']}-x"}
        for t in route["spec"]["traffic"]
    ]
    status = {
        "conditions": ready_condition(),
        "url": "http://fraud.default.example",
        "traffic": traffic,
    }
    kube.patch(route, {"status": status}, status=True)


def _configuration_ready(kube: KubeMock, config: dict[str, Any]) -> None:
    revision = f"{config['metadata']['name']}-00001"
    status = {
        "conditions": ready_condition(),
        "latestCreatedRevisionName": revision,
        "latestReadyRevisionName": revision,
    }
    kube.patch(config, {"status": status}, status=True)


def test_a_canary_service_gets_owned_children_ready_status_and_route_updates(
    kube: KubeMock, tmp_path: Path
) -> None:
    with operator(kube, tmp_path, "--mode", "knative") as log:
        kube.create(CANARY)

        def children() -> list[dict[str, Any]] | None:
            found = [kube.get(KNATIVE, "configurations", NS, name) for name in CONFIGS]
            found.append(kube.get(KNATIVE, "routes", NS, "fraud"))
            return [c for c in found if c] if all(found) else None

        configs_and_route = eventually(children, "two Configurations and a Route", log)
        expected = _rendered(CANARY)
        for child in configs_and_route:
            [owner] = child["metadata"]["ownerReferences"]
            assert owner == {
                "apiVersion": OURS,
                "kind": "MLService",
                "name": "fraud",
                "uid": "uid-fraud",
                "controller": True,
                "blockOwnerDeletion": True,
            }
            assert _as_rendered(child) == expected[(child["kind"], child["metadata"]["name"])]
        *configs, route = configs_and_route
        assert {t["tag"]: t["percent"] for t in route["spec"]["traffic"]} == {"v1": 80, "v2": 20}

        def status() -> dict[str, Any]:
            return dict((kube.get(OURS, "mlservices", NS, "fraud") or {}).get("status") or {})

        eventually(lambda: condition({"status": status()}, "Ready"), "a Ready condition", log)
        assert status()["ready"] is False  # nothing reported ready yet

        for config in configs:
            _configuration_ready(kube, config)
        eventually(
            lambda: (
                (condition({"status": status()}, "Ready") or {}).get("reason") == "IngressNotReady"
            ),
            "Ready False while only the Route is not ready",
            log,
        )
        _route_ready(kube, route)
        eventually(lambda: status().get("ready") is True, "the MLService to become Ready", log)
        rows = {r["name"]: r for r in status()["releases"]}
        assert {name: r["trafficPercent"] for name, r in rows.items()} == {"v1": 80, "v2": 20}
        assert {name: r["url"] for name, r in rows.items()} == {
            "v1": "http://v1-x",
            "v2": "http://v2-x",
        }
        assert status()["address"] == {"url": "http://fraud.default.example"}
        assert status()["canaryRelease"] == "v2"

        parent = kube.get(OURS, "mlservices", NS, "fraud")
        assert parent is not None
        kube.patch(parent, {"metadata": {"generation": 2}, "spec": {"canaryTrafficPercent": 50}})

        def split() -> dict[str, int] | None:
            route = kube.get(KNATIVE, "routes", NS, "fraud") or {}
            found = {t["tag"]: t["percent"] for t in route["spec"]["traffic"]}
            return found if found == {"v1": 50, "v2": 50} else None

        eventually(split, "the Route patched to 50/50", log)
        eventually(
            lambda: [r["trafficPercent"] for r in status()["releases"]] == [50, 50],
            "the status to show the new split",
            log,
        )
        assert status()["observedGeneration"] == 2
        events = kube.list("v1", "events", NS)
        assert any(
            e.get("reason") == "Created" and e["involvedObject"]["uid"] == "uid-fraud"
            for e in events
        ), events

    sent = written(kube.handler)
    assert {(o["kind"], o["metadata"]["name"]) for o in sent} == {
        ("Configuration", "fraud-predict-v1"),
        ("Configuration", "fraud-predict-v2"),
        ("Route", "fraud"),
    }
    for obj in sent:
        assert_valid(obj)


RUNTIME = {
    "apiVersion": OURS,
    "kind": "MLServiceRuntime",
    "metadata": {"name": "torchscript", "namespace": NS, "uid": "uid-rt", "generation": 1},
    "spec": {
        "supportedModelFormats": [{"name": "torchscript", "autoSelect": True}],
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "user-container",
                        "image": "registry.example/torchscript:1",
                        "args": ["--port", "$(PORT)", "--name", "{{.Name}}"],
                        "ports": [{"containerPort": 8080}],
                    }
                ]
            }
        },
    },
}


def _image(kube: KubeMock, name: str) -> str | None:
    config = kube.get(KNATIVE, "configurations", NS, name)
    if config is None:
        return None
    return str(config["spec"]["template"]["spec"]["containers"][0]["image"])


def test_a_runtime_update_rolls_every_service_that_uses_it(kube: KubeMock, tmp_path: Path) -> None:
    kube.create(RUNTIME)
    users = [mlservice(n, release("v1", runtime="torchscript")) for n in ("alpha", "beta")]
    other = mlservice("gamma", release("v1"))
    with operator(kube, tmp_path) as log:
        for svc in [*users, other]:
            kube.create(svc)
        for name in ("alpha", "beta"):
            eventually(
                lambda n=name: _image(kube, f"{n}-predict-v1") == "registry.example/torchscript:1",
                f"{name}'s Configuration from the runtime",
                log,
            )
        before = eventually(
            lambda: kube.get(KNATIVE, "configurations", NS, "gamma-predict-v1"), "gamma", log
        )

        new_image = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                **RUNTIME["spec"]["template"]["spec"]["containers"][0],
                                "image": "registry.example/torchscript:2",
                            }
                        ]
                    }
                }
            }
        }
        for name in ("alpha", "beta", "gamma"):
            eventually(lambda n=name: kube.get(KNATIVE, "routes", NS, n), f"{name}'s Route", log)
        mark = kube.received()
        kube.patch(RUNTIME, new_image)
        for name in ("alpha", "beta"):
            eventually(
                lambda n=name: _image(kube, f"{n}-predict-v1") == "registry.example/torchscript:2",
                f"{name}'s Configuration with the new template",
                log,
            )
        rolled = {o["metadata"]["name"] for o in written(kube.handler, since=mark)}
        assert rolled == {"alpha-predict-v1", "beta-predict-v1"}
        assert kube.get(KNATIVE, "configurations", NS, "gamma-predict-v1") == before

        kube.delete(OURS, "mlserviceruntimes", NS, "torchscript")

        def refused(name: str) -> bool:
            found = condition(kube.get(OURS, "mlservices", NS, name), "Ready") or {}
            return found.get("reason") == "NotRenderable" and "torchscript" in found["message"]

        for name in ("alpha", "beta"):
            eventually(lambda n=name: refused(n), f"{name} refused once its runtime is gone", log)
        assert (condition(kube.get(OURS, "mlservices", NS, "gamma"), "Ready") or {}).get(
            "reason"
        ) != "NotRenderable"


def test_a_render_error_is_a_condition_and_the_operator_goes_on(
    kube: KubeMock, tmp_path: Path
) -> None:
    broken = mlservice("broken", release("v1", runtime="nowhere"))
    with operator(kube, tmp_path) as log:
        kube.create(broken)

        def failed() -> dict[str, Any] | None:
            found = condition(kube.get(OURS, "mlservices", NS, "broken"), "Ready")
            return found if found and found["status"] == "False" else None

        ready = eventually(failed, "Ready False on the broken service", log)
        assert ready["reason"] == "NotRenderable"
        assert "nowhere" in ready["message"]
        assert kube.get(KNATIVE, "routes", NS, "broken") is None

        kube.create(mlservice("fine", release("v1")))
        eventually(
            lambda: kube.get(KNATIVE, "routes", NS, "fine"), "the next service reconciled", log
        )

        parent = kube.get(OURS, "mlservices", NS, "broken")
        assert parent is not None
        fixed = {"metadata": {"generation": 2}, "spec": {"releases": [release("v1")]}}
        kube.patch(parent, fixed)
        eventually(
            lambda: kube.get(KNATIVE, "routes", NS, "broken"), "the fixed service's Route", log
        )
        eventually(
            lambda: (
                (condition(kube.get(OURS, "mlservices", NS, "broken"), "Ready") or {}).get("reason")
                == "Deploying"
            ),
            "the error condition replaced",
            log,
        )


def test_a_child_deleted_by_hand_is_written_again(kube: KubeMock, tmp_path: Path) -> None:
    with operator(kube, tmp_path) as log:
        kube.create(mlservice("solo", release("v1")))
        first = eventually(
            lambda: kube.get(KNATIVE, "configurations", NS, "solo-predict-v1"), "the child", log
        )
        kube.delete(KNATIVE, "configurations", NS, "solo-predict-v1")
        again = eventually(
            lambda: kube.get(KNATIVE, "configurations", NS, "solo-predict-v1"),
            "the Configuration written again",
            log,
        )
    assert again["spec"] == first["spec"]
    assert again["metadata"]["ownerReferences"] == first["metadata"]["ownerReferences"]


def test_fields_knative_mode_cannot_render_are_warned_once_per_spec(
    kube: KubeMock, tmp_path: Path
) -> None:
    """spec.analysis and a knative-mode shadow have no child: a Warning event each, naming the
    field, and the rest is rendered; a child's change repeats nothing, a new spec warns again."""
    svc = mlservice(
        "guarded",
        release("v1"),
        release("v2"),
        release("v3"),
        canary="v2",
        canaryTrafficPercent=10,
        analysis={"steps": [10, 50, 100]},
        shadow={"release": "v3", "percent": 50},
    )

    def warnings() -> list[str]:
        return [
            e["message"]
            for e in events_posted(kube.handler)
            if (e.get("reason"), e.get("type")) == ("NotRendered", "Warning")
            and e["involvedObject"]["uid"] == "uid-guarded"
        ]

    with operator(kube, tmp_path) as log:
        kube.create(svc)
        route = eventually(lambda: kube.get(KNATIVE, "routes", NS, "guarded"), "the Route", log)
        found = eventually(lambda: warnings() if len(warnings()) == 2 else None, "2 warnings", log)
        assert any(m.startswith("MLService default/guarded: spec.analysis") for m in found), found
        assert any("spec.shadow is not rendered in knative mode" in m for m in found), found
        _route_ready(kube, route)
        eventually(
            lambda: "http://v1-x" in str(kube.get(OURS, "mlservices", NS, "guarded")),
            "the status written from the Route's",
            log,
        )
        time.sleep(1.0)  # the status write and the Route's change come back as events
        assert len(warnings()) == 2  # those events reconciled the same spec: no new warning

        parent = kube.get(OURS, "mlservices", NS, "guarded")
        assert parent is not None
        kube.patch(parent, {"metadata": {"generation": 2}, "spec": {"canaryTrafficPercent": 20}})
        eventually(lambda: len(warnings()) == 4 or None, "the new spec warned again", log)
