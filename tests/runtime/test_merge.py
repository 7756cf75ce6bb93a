"""Strategic merge patch: the reference's three examples, Kubernetes' list rules, properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.errors import InvalidInput
from mlservice.runtime import strategic_merge


def _containers(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"containers": list(containers)}


def test_reference_example_1_adds_a_container_with_another_name() -> None:
    runtime = _containers({"name": "user-container", "image": "torchserve:alpha"})
    patch = _containers({"name": "proxy", "image": "envoy"})
    assert strategic_merge(runtime, patch) == _containers(
        {"name": "user-container", "image": "torchserve:alpha"},
        {"name": "proxy", "image": "envoy"},
    )


def test_reference_example_2_replaces_the_image_of_the_same_container() -> None:
    runtime = _containers(
        {"name": "user-container", "image": "torchserve:alpha", "args": ["torchserve", "--start"]}
    )
    patch = _containers({"name": "user-container", "image": "torchserve:beta"})
    assert strategic_merge(runtime, patch) == _containers(
        {"name": "user-container", "image": "torchserve:beta", "args": ["torchserve", "--start"]}
    )


def test_reference_example_3_replaces_args_whole() -> None:
    runtime = _containers({"name": "user-container", "args": ["--k1=v1", "--k2=v2"]})
    patch = _containers({"name": "user-container", "args": ["--k2=v3"]})
    assert strategic_merge(runtime, patch) == _containers(
        {"name": "user-container", "args": ["--k2=v3"]}
    )


def test_keyed_lists_of_a_container_merge_by_their_kubernetes_keys() -> None:
    runtime = _containers(
        {
            "name": "user-container",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "volumeMounts": [{"name": "model", "mountPath": "/var/lib/t9k/model"}],
            "command": ["serve"],
        }
    )
    patch = _containers(
        {
            "name": "user-container",
            "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
            "ports": [{"containerPort": 8080, "name": "http"}],
            "volumeMounts": [
                {"name": "model", "mountPath": "/var/lib/t9k/model", "readOnly": True},
                {"name": "model", "mountPath": "/extra"},
            ],
        }
    )
    merged = strategic_merge(runtime, patch)["containers"][0]
    assert merged["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "two"},
        {"name": "C", "value": "3"},
    ]
    assert merged["ports"] == [{"containerPort": 8080, "protocol": "TCP", "name": "http"}]
    assert merged["volumeMounts"] == [
        {"name": "model", "mountPath": "/var/lib/t9k/model", "readOnly": True},
        {"name": "model", "mountPath": "/extra"},
    ]
    assert merged["command"] == ["serve"]


def test_maps_merge_lists_without_a_key_are_replaced_and_null_deletes() -> None:
    runtime = {
        "nodeSelector": {"disk": "ssd", "zone": "a"},
        "tolerations": [{"key": "a"}],
        "volumes": [{"name": "model", "emptyDir": {}}],
    }
    patch = {
        "nodeSelector": {"zone": "b", "disk": None},
        "tolerations": [{"key": "b"}],
        "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}],
    }
    assert strategic_merge(runtime, patch) == {
        "nodeSelector": {"zone": "b"},
        "tolerations": [{"key": "b"}],
        "volumes": [
            {"name": "model", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}},
        ],
    }


def test_patch_directives_delete_and_replace() -> None:
    runtime = {
        "containers": [
            {"name": "user-container", "env": [{"name": "A", "value": "1"}, {"name": "B"}]},
            {"name": "sidecar"},
        ],
        "securityContext": {"runAsUser": 1, "fsGroup": 2},
    }
    patch = {
        "containers": [
            {"name": "sidecar", "$patch": "delete"},
            {"name": "user-container", "env": [{"name": "A", "$patch": "delete"}]},
            {"name": "never-there", "$patch": "delete"},
        ],
        "securityContext": {"$patch": "replace", "runAsUser": 5},
    }
    assert strategic_merge(runtime, patch) == {
        "containers": [{"name": "user-container", "env": [{"name": "B"}]}],
        "securityContext": {"runAsUser": 5},
    }
    replaced = strategic_merge(runtime, {"containers": [{"$patch": "replace"}, {"name": "only"}]})
    assert replaced["containers"] == [{"name": "only"}]


def test_merge_does_not_change_its_inputs_and_needs_merge_keys() -> None:
    runtime = _containers({"name": "user-container", "env": [{"name": "A", "value": "1"}]})
    patch = _containers({"name": "user-container", "env": [{"name": "A", "value": "2"}]})
    before = copy.deepcopy((runtime, patch))
    strategic_merge(runtime, patch)
    assert (runtime, patch) == before
    with pytest.raises(InvalidInput, match="lacks its merge key name"):
        strategic_merge(runtime, _containers({"image": "x"}))


# --- properties ---------------------------------------------------------------------------------

_scalar = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=5))
_names = st.sampled_from(["user-container", "proxy", "logger"])
_env = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["A", "B", "C"]), "value": st.text(max_size=3)}),
    max_size=3,
    unique_by=lambda e: e["name"],
)
_container = st.fixed_dictionaries(
    {"name": _names},
    optional={
        "image": st.text(max_size=5),
        "args": st.lists(st.text(max_size=4), max_size=3),
        "env": _env,
        "resources": st.fixed_dictionaries(
            {},
            optional={
                "limits": st.dictionaries(
                    st.sampled_from(["cpu", "memory"]), st.text(min_size=1, max_size=3)
                )
            },
        ),
        "workingDir": st.text(max_size=5),
    },
)
_pod = st.fixed_dictionaries(
    {},
    optional={
        "containers": st.lists(_container, max_size=3, unique_by=lambda c: c["name"]),
        "nodeSelector": st.dictionaries(st.sampled_from(["a", "b"]), st.text(max_size=3)),
        "tolerations": st.lists(
            st.dictionaries(st.sampled_from(["key", "value"]), _scalar), max_size=2
        ),
        "restartPolicy": st.sampled_from(["Always", "Never"]),
    },
)


@settings(max_examples=200, deadline=None)
@given(pod=_pod)
def test_merging_an_empty_patch_is_identity(pod: dict[str, Any]) -> None:
    assert strategic_merge(pod, {}) == pod
    assert strategic_merge(pod, {"containers": []}) == {
        **pod,
        "containers": pod.get("containers", []),
    }


@settings(max_examples=200, deadline=None)
@given(pod=_pod, patch=_pod)
def test_patch_values_win(pod: dict[str, Any], patch: dict[str, Any]) -> None:
    merged = strategic_merge(pod, patch)
    for key in ("restartPolicy", "tolerations"):
        if key in patch:
            assert merged[key] == patch[key]
    for key, value in patch.get("nodeSelector", {}).items():
        assert merged["nodeSelector"][key] == value
    by_name = {c["name"]: c for c in merged.get("containers", [])}
    for container in patch.get("containers", []):
        result = by_name[container["name"]]
        for key in ("image", "args", "workingDir"):
            if key in container:
                assert result[key] == container[key]
        for var in container.get("env", []):
            assert var in result["env"]
        for name, value in container.get("resources", {}).get("limits", {}).items():
            assert result["resources"]["limits"][name] == value
    # Nothing of the original is lost except what the patch overrides.
    originals = {c["name"] for c in pod.get("containers", [])}
    assert originals <= set(by_name)


@settings(max_examples=100, deadline=None)
@given(pod=_pod)
def test_merging_a_pod_onto_itself_changes_nothing(pod: dict[str, Any]) -> None:
    assert strategic_merge(pod, pod) == pod
