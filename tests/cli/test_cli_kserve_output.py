"""How `mls get` and `mls describe` show KServe's kinds, from canned status objects: the
columns kubectl prints from KServe's CRDs, and the components of an InferenceService."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from mlservice.cli.describe import render
from mlservice.cli.output import table
from mlservice.client._wire import path_for, resolve_kind
from mlservice.errors import InvalidInput
from tests.resources.kserve_manifests import runtime

# A canary rollout under way: the latest revision takes 10 %, the previous rolled-out one 90 %.
ROLLING: dict[str, Any] = {
    "kind": "InferenceService",
    "apiVersion": "serving.kserve.io/v1beta1",
    "metadata": {"name": "sklearn-iris", "namespace": "team", "creationTimestamp": None},
    "spec": {"predictor": {"canaryTrafficPercent": 10}},
    "status": {
        "url": "http://sklearn-iris.team.localhost:8080",
        "address": {"url": "http://sklearn-iris-predictor.team.svc.cluster.local"},
        "conditions": [
            {"type": "PredictorReady", "status": "True"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T12:00:00Z"},
        ],
        "components": {
            "predictor": {
                "url": "http://sklearn-iris-predictor.team.localhost:8080",
                "latestCreatedRevision": "sklearn-iris-predictor-00002",
                "latestReadyRevision": "sklearn-iris-predictor-00002",
                "latestRolledoutRevision": "sklearn-iris-predictor-00001",
                "previousRolledoutRevision": "sklearn-iris-predictor-00001",
                "traffic": [
                    {
                        "revisionName": "sklearn-iris-predictor-00002",
                        "percent": 10,
                        "latestRevision": True,
                        "tag": "latest",
                        "url": "http://latest-sklearn-iris-predictor.team.localhost:8080",
                    },
                    {
                        "revisionName": "sklearn-iris-predictor-00001",
                        "percent": 90,
                        "latestRevision": False,
                        "tag": "prev",
                    },
                ],
            }
        },
        "modelStatus": {"transitionStatus": "UpToDate"},
        "observedGeneration": 2,
    },
}


def rendered(kind: str, items: list[dict[str, Any]], **options: bool) -> list[list[str]]:
    out = io.StringIO()
    Console(file=out, width=250, no_color=True).print(table(kind, items, **options))
    return [line.split() for line in out.getvalue().splitlines()]


def test_isvc_columns_are_kserves_printer_columns() -> None:
    header, row = rendered("InferenceService", [ROLLING])
    assert header == ["NAME", "URL", "READY", "PREV", "LATEST", "AGE"]
    assert row == [
        "sklearn-iris",
        "http://sklearn-iris.team.localhost:8080",
        "True",
        "90",
        "10",
        "<unknown>",
    ]
    header, row = rendered("InferenceService", [ROLLING], wide=True, namespaces=True)
    assert header == [
        "NAMESPACE",
        "NAME",
        "URL",
        "READY",
        "PREV",
        "LATEST",
        "PREVROLLEDOUTREVISION",
        "LATESTREADYREVISION",
        "AGE",
    ]
    assert row[6:8] == ["sklearn-iris-predictor-00001", "sklearn-iris-predictor-00002"]


def test_isvc_columns_are_empty_until_status_says_more() -> None:
    promoted = {
        **ROLLING,
        "status": {
            "url": "http://a.team.localhost:8080",
            "conditions": [{"type": "Ready", "status": "False"}],
            "components": {
                "predictor": {
                    "traffic": [
                        {
                            "revisionName": "a-predictor-00001",
                            "percent": 100,
                            "latestRevision": True,
                        }
                    ]
                }
            },
        },
    }
    new = {"metadata": {"name": "b"}, "spec": {}}
    rows = rendered("InferenceService", [promoted, new])
    assert rows[1] == ["sklearn-iris", "http://a.team.localhost:8080", "False", "100", "<unknown>"]
    assert rows[2] == ["b", "<unknown>"]  # URL, READY, PREV and LATEST all blank


@pytest.mark.parametrize("kind", ["ServingRuntime", "ClusterServingRuntime"])
def test_runtime_columns_are_kserves_printer_columns(kind: str) -> None:
    manifest = runtime(kind)
    manifest["spec"]["disabled"] = True
    manifest["spec"]["supportedModelFormats"].append({"name": "xgboost"})
    manifest["spec"]["containers"].append({"name": "agent"})
    header, row = rendered(kind, [manifest, runtime(kind, name="plain")])[:2]
    assert header == ["NAME", "DISABLED", "MODELTYPE", "CONTAINERS", "AGE"]
    assert row == [
        "kserve-sklearnserver",
        "true",
        "sklearn,xgboost",
        "kserve-container,agent",
        "<unknown>",
    ]


def test_describe_shows_components_traffic_and_conditions() -> None:
    text = render(ROLLING, events=[])
    lines = text.splitlines()
    assert "URL:          http://sklearn-iris.team.localhost:8080" in lines
    start = lines.index("Components:")
    assert lines[start : start + 11] == [
        "Components:",
        "  predictor:",
        "    URL:                  http://sklearn-iris-predictor.team.localhost:8080",
        "    Latest created:       sklearn-iris-predictor-00002",
        "    Latest ready:         sklearn-iris-predictor-00002",
        "    Latest rolled out:    sklearn-iris-predictor-00001",
        "    Previous rolled out:  sklearn-iris-predictor-00001",
        "    Traffic:",
        "      sklearn-iris-predictor-00002  10%  latest  tag=latest  "
        "url=http://latest-sklearn-iris-predictor.team.localhost:8080",
        "      sklearn-iris-predictor-00001  90%  tag=prev",
        "Conditions:",
    ]
    assert "  type=PredictorReady  status=True" in lines
    assert "  modelStatus:" in lines  # the rest of status, as YAML
    assert "components:" not in text  # shown once, above


def test_describe_a_cluster_scoped_object_has_no_namespace_line() -> None:
    text = render(runtime(), events=[])
    assert "Namespace:" not in text
    assert "Kind:         ClusterServingRuntime (serving.kserve.io/v1alpha1)" in text


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("inferenceservices", "InferenceService"),
        ("inferenceservice", "InferenceService"),
        ("isvc", "InferenceService"),
        ("ISVC", "InferenceService"),
        ("servingruntimes", "ServingRuntime"),
        ("servingruntime", "ServingRuntime"),
        ("clusterservingruntimes", "ClusterServingRuntime"),
        ("clusterservingruntime", "ClusterServingRuntime"),
        ("ClusterServingRuntime", "ClusterServingRuntime"),
    ],
)
def test_kserve_kind_names_resolve(typed: str, kind: str) -> None:
    assert resolve_kind(typed).kind == kind


def test_paths_of_cluster_scoped_kinds_ignore_the_namespace() -> None:
    csr = resolve_kind("clusterservingruntime")
    base = "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes"
    assert path_for(csr, "team", name="rt") == f"{base}/rt"
    assert path_for(csr, None) == base
    assert path_for(csr, "team") == base
    isvc = resolve_kind("isvc")
    assert path_for(isvc, "team", name="a", status=True) == (
        "/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices/a/status"
    )
    assert path_for(isvc, None) == "/apis/serving.kserve.io/v1beta1/inferenceservices"
    with pytest.raises(InvalidInput, match="inferenceservice, servingruntime"):
        resolve_kind("isvcs")
