"""spec.shadow and spec.analysis on Kubernetes: a RequestMirror filter in standard mode, a
warning naming the field where nothing renders them (docs/kubernetes.md)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from mlservice.controller.offline import render
from tests.support.paths import REPO

SHADOW = yaml.safe_load((REPO / "examples/mlservice/shadow.yaml").read_text())
ANALYSIS = yaml.safe_load((REPO / "examples/mlservice/canary-analysis.yaml").read_text())
NAME = "multi-releases-shadow"


def rendered(obj: dict[str, Any], mode: str) -> tuple[list[dict[str, Any]], list[str]]:
    warnings: list[str] = []
    objects = render([obj], mode=mode, warn=warnings.append)  # type: ignore[arg-type]
    return objects, warnings


def mirrors(objects: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each HTTPRoute's RequestMirror filters, by route name."""
    return {
        o["metadata"]["name"]: [
            f["requestMirror"]
            for rule in o["spec"]["rules"]
            for f in rule.get("filters", ())
            if f["type"] == "RequestMirror"
        ]
        for o in objects
        if o["kind"] == "HTTPRoute"
    }


def test_standard_mode_mirrors_the_service_and_predictor_hosts_to_the_shadow() -> None:
    objects, warnings = rendered(SHADOW, "standard")
    copy_to = {"backendRef": {"name": f"{NAME}-predict-nov-11", "port": 80}, "percent": 50}
    assert mirrors(objects) == {
        NAME: [copy_to],
        f"{NAME}-predict-nov-05": [],
        f"{NAME}-predict-nov-11": [],
    }
    assert warnings == []
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    assert copy_to["backendRef"]["name"] in services  # type: ignore[index]


def test_with_a_transformer_only_its_calls_to_the_predictor_are_mirrored() -> None:
    svc = copy.deepcopy(SHADOW)
    container = {"name": "user-container", "image": "example/transformer"}
    svc["spec"]["transformer"] = {"template": {"spec": {"containers": [container]}}}
    found = mirrors(rendered(svc, "standard")[0])
    assert found[NAME] == []
    assert [m["backendRef"]["name"] for m in found[f"{NAME}-predictor"]] == [
        f"{NAME}-predict-nov-11"
    ]


def test_no_mirror_at_0_percent_or_to_the_canary() -> None:
    idle = copy.deepcopy(SHADOW)
    idle["spec"]["shadow"]["percent"] = 0
    canary = copy.deepcopy(SHADOW)
    canary["spec"] |= {"canary": "nov-11", "canaryTrafficPercent": 10}
    for svc in (idle, canary):
        assert not any(mirrors(rendered(svc, "standard")[0]).values())


def test_knative_mode_warns_and_still_renders_the_shadow_release() -> None:
    objects, warnings = rendered(SHADOW, "knative")
    assert [w for w in warnings if "spec.shadow" in w] == [
        f"MLService default/{NAME}: spec.shadow is not rendered in knative mode (a Knative "
        "Route cannot mirror requests); release nov-11 runs without copies (--mode standard "
        "renders an HTTPRoute RequestMirror)."
    ]
    configurations = {o["metadata"]["name"] for o in objects if o["kind"] == "Configuration"}
    assert f"{NAME}-predict-nov-11" in configurations


def test_analysis_renders_spec_as_written_with_a_warning() -> None:
    plain = copy.deepcopy(ANALYSIS)
    del plain["spec"]["analysis"]
    for mode in ("knative", "standard"):
        objects, warnings = rendered(ANALYSIS, mode)
        assert objects == rendered(plain, mode)[0]
        assert len(warnings) == 1
        assert "spec.analysis is not rendered" in warnings[0]
