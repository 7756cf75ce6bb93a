"""Autoscaling annotations: what parses, what is refused (naming the annotation), and where."""

from __future__ import annotations

from typing import Any

import pytest

from mlservice.errors import BadValue, InvalidObject
from mlservice.resources import validate_object
from mlservice.resources.autoscaling import (
    AutoscalingAnnotations,
    parse_annotations,
    parse_duration,
)

K = "autoscaling.knative.dev/"

GOOD: list[tuple[dict[str, str], AutoscalingAnnotations]] = [
    ({}, AutoscalingAnnotations()),
    ({"unrelated/key": "x"}, AutoscalingAnnotations()),
    ({K + "metric": "rps"}, AutoscalingAnnotations(metric="rps")),
    ({K + "metric": "concurrency"}, AutoscalingAnnotations(metric="concurrency")),
    ({K + "target": "0.5"}, AutoscalingAnnotations(target=0.5)),
    (
        {K + "target-utilization-percentage": "85"},
        AutoscalingAnnotations(target_utilization_percentage=85.0),
    ),
    ({K + "window": "6s"}, AutoscalingAnnotations(window=6.0)),
    ({K + "window": "1m30s"}, AutoscalingAnnotations(window=90.0)),
    ({K + "window": "1h"}, AutoscalingAnnotations(window=3600.0)),
    ({K + "panic-window-percentage": "20.5"}, AutoscalingAnnotations(panic_window_percentage=20.5)),
    (
        {K + "panic-threshold-percentage": "110"},
        AutoscalingAnnotations(panic_threshold_percentage=110),
    ),
    (
        {K + "scale-to-zero-pod-retention-period": "1m5s"},
        AutoscalingAnnotations(scale_to_zero_pod_retention_period=65.0),
    ),
    (
        {K + "scale-to-zero-pod-retention-period": "0"},
        AutoscalingAnnotations(scale_to_zero_pod_retention_period=0.0),
    ),
    ({K + "initial-scale": "0"}, AutoscalingAnnotations(initial_scale=0)),
    ({K + "activation-scale": "2"}, AutoscalingAnnotations(activation_scale=2)),
    ({K + "class": "kpa.autoscaling.knative.dev"}, AutoscalingAnnotations()),
]


@pytest.mark.parametrize(("annotations", "expected"), GOOD)
def test_valid_annotations_parse(
    annotations: dict[str, str], expected: AutoscalingAnnotations
) -> None:
    assert parse_annotations(annotations) == (expected, {})


BAD: list[tuple[str, str, str]] = [
    # (annotation, value, a phrase the message must contain)
    ("metric", "qps", "not one of concurrency, rps"),
    ("metric", "cpu", "not one of concurrency, rps"),
    ("target", "0", "below the smallest target"),
    ("target", "ten", "not a number"),
    ("target", "nan", "not a finite number"),
    ("target-utilization-percentage", "0.5", "outside 1..100"),
    ("target-utilization-percentage", "101", "outside 1..100"),
    ("window", "5s", "outside 6s..1h"),
    ("window", "2h", "outside 6s..1h"),
    ("window", "6.5s", "not a whole number of seconds"),
    ("window", "60", "not a duration"),
    ("window", "sixty seconds", "not a duration"),
    ("panic-window-percentage", "0", "outside 1..100"),
    ("panic-threshold-percentage", "100", "outside 110..1000"),
    ("panic-threshold-percentage", "1001", "outside 110..1000"),
    ("scale-to-zero-pod-retention-period", "-1s", "outside 0s..1h"),
    ("scale-to-zero-pod-retention-period", "2h", "outside 0s..1h"),
    ("initial-scale", "-1", "not a whole number"),
    ("initial-scale", "1.5", "not a whole number"),
    ("activation-scale", "0", "outside 1.."),
    ("class", "hpa.autoscaling.knative.dev", "not supported"),
    ("targt", "5", 'did you mean "autoscaling.knative.dev/target"'),
    ("min-scale", "1", "minReplicas"),
    ("maxScale", "3", "maxReplicas"),
]


@pytest.mark.parametrize(("name", "value", "phrase"), BAD)
def test_invalid_annotations_name_the_annotation_and_value(
    name: str, value: str, phrase: str
) -> None:
    other = "initial-scale" if name != "initial-scale" else "activation-scale"
    values, problems = parse_annotations({K + name: value, K + other: "4"})
    assert list(problems) == [K + name]
    message = problems[K + name]
    assert message.startswith(K + name)
    assert phrase in message
    assert 4 in (values.initial_scale, values.activation_scale)  # the good one still parses


def _mlservice(annotations: dict[str, str], *, where: str) -> dict[str, Any]:
    template = {"metadata": {"annotations": annotations}}
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "sklearn"}}}
    spec: dict[str, Any] = {"default": "v1", "releases": [{"name": "v1", "predictor": predictor}]}
    if where == "release":
        predictor["template"] = template
    else:
        spec["transformer"] = {"template": {**template, "spec": {"containers": [{"name": "t"}]}}}
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "demo"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("release", "spec.releases[0].predictor.template.metadata.annotations"),
        ("transformer", "spec.transformer.template.metadata.annotations"),
    ],
)
def test_validate_object_refuses_bad_annotations_with_their_path(where: str, path: str) -> None:
    bad = {K + "window": "3s", K + "panic-threshold-percentage": "50", K + "target": "7"}
    with pytest.raises(InvalidObject) as caught:
        validate_object(_mlservice(bad, where=where))
    fields = sorted(c.field for c in caught.value.causes)
    assert fields == [f"{path}[{K}panic-threshold-percentage]", f"{path}[{K}window]"]


def test_validate_object_accepts_good_annotations() -> None:
    good = {K + "window": "6s", K + "metric": "rps", K + "initial-scale": "0"}
    validated = validate_object(_mlservice(good, where="release"))
    template = validated["spec"]["releases"][0]["predictor"]["template"]
    assert template["metadata"]["annotations"] == good


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("90s", 90.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("-2s", -2.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10", "1d", "5 s", "1m 30s", "s5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadValue):
        parse_duration(text)
