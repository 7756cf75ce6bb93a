"""Choosing a runtime: by name, else by model format, autoSelect and priority."""

from __future__ import annotations

from typing import Any

import pytest

from mlservice.errors import RuntimeSelectionError
from mlservice.resources import MLServiceRuntime, parse_as
from mlservice.resources.mlservice import ModelSpec
from mlservice.runtime import BUILTIN_NAMESPACE, select_runtime


def _runtime(
    name: str, *formats: dict[str, Any], namespace: str = "default", enabled: bool = True
) -> MLServiceRuntime:
    return parse_as(
        MLServiceRuntime,
        {
            "apiVersion": "tensorstack.dev/v1beta1",
            "kind": "MLServiceRuntime",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "enabled": enabled,
                "supportedModelFormats": list(formats),
                "template": {"spec": {"containers": [{"name": "user-container"}]}},
            },
        },
    )


def _model(**fields: Any) -> ModelSpec:
    return ModelSpec.model_validate(fields)


def _pick(model: ModelSpec, *runtimes: MLServiceRuntime, namespace: str = "default") -> str:
    return select_runtime(model, namespace=namespace, runtimes=runtimes).name


def test_named_runtime_wins_over_formats() -> None:
    runtimes = (_runtime("a", {"name": "sklearn", "priority": 9}), _runtime("b"))
    assert _pick(_model(runtime="b"), *runtimes) == "b"


def test_named_runtime_must_exist_be_enabled_and_serve_the_format() -> None:
    with pytest.raises(RuntimeSelectionError, match='Runtime "nope" does not exist'):
        _pick(_model(runtime="nope"), _runtime("a"))
    with pytest.raises(RuntimeSelectionError, match='Runtime "a" is disabled'):
        _pick(_model(runtime="a"), _runtime("a", enabled=False))
    with pytest.raises(RuntimeSelectionError, match='does not support model format "onnx"'):
        _pick(_model(runtime="a", modelFormat={"name": "onnx"}), _runtime("a", {"name": "sklearn"}))


def test_highest_priority_among_enabled_autoselect_runtimes_wins() -> None:
    runtimes = (
        _runtime("low", {"name": "sklearn", "priority": 1}),
        _runtime("high", {"name": "sklearn", "priority": 5}),
        _runtime("off", {"name": "sklearn", "priority": 9}, enabled=False),
        _runtime("manual", {"name": "sklearn", "priority": 9, "autoSelect": False}),
        _runtime("other", {"name": "xgboost", "priority": 9}),
    )
    assert _pick(_model(modelFormat={"name": "sklearn"}), *runtimes) == "high"


def test_format_version_must_match_when_the_model_gives_one() -> None:
    runtimes = (
        _runtime("v1", {"name": "onnx", "version": "1", "priority": 5}),
        _runtime("v2", {"name": "onnx", "version": "2", "priority": 1}),
    )
    assert _pick(_model(modelFormat={"name": "onnx", "version": "2"}), *runtimes) == "v2"
    assert _pick(_model(modelFormat={"name": "onnx"}), *runtimes) == "v1"


def test_ties_and_no_candidate_are_clear_errors() -> None:
    tie = (_runtime("a", {"name": "sklearn"}), _runtime("b", {"name": "sklearn"}))
    with pytest.raises(
        RuntimeSelectionError, match=r'Runtimes a, b all serve model format "sklearn"'
    ):
        _pick(_model(modelFormat={"name": "sklearn"}), *tie)
    with pytest.raises(
        RuntimeSelectionError, match='No enabled runtime supports model format "tf"'
    ):
        _pick(_model(modelFormat={"name": "tf"}), *tie)


def test_namespace_runtimes_shadow_and_outrank_builtins() -> None:
    builtin = _runtime("sklearn", {"name": "sklearn"}, namespace=BUILTIN_NAMESPACE)
    local = _runtime("mine", {"name": "sklearn"})
    other_namespace = _runtime("theirs", {"name": "sklearn", "priority": 9}, namespace="other")
    model = _model(modelFormat={"name": "sklearn"})
    assert _pick(model, builtin, local, other_namespace) == "mine"
    assert _pick(model, builtin, other_namespace) == "sklearn"
    shadow = _runtime("sklearn", enabled=False)
    with pytest.raises(RuntimeSelectionError, match="is disabled"):
        _pick(_model(runtime="sklearn"), builtin, shadow)
    picked = select_runtime(_model(runtime="sklearn"), namespace="team", runtimes=[builtin])
    assert picked.namespace == BUILTIN_NAMESPACE
