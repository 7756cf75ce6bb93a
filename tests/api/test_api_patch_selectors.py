"""Merge patch (RFC 7386) and selector parsing: pure functions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.api.patch import merge_patch
from mlservice.api.selectors import field_selector, label_selector
from mlservice.errors import InvalidInput

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
documents = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # the examples of RFC 7386, appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc_7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


@settings(deadline=None, max_examples=200)
@given(documents)
def test_empty_patch_is_identity(doc: dict[str, Any]) -> None:
    assert merge_patch(doc, {}) == doc


@settings(deadline=None, max_examples=200)
@given(documents, documents)
def test_patching_twice_changes_nothing_more(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(doc, patch)
    assert merge_patch(once, patch) == once
    assert merge_patch(doc, {}) == doc  # the target itself is never mutated


def labelled(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "namespace": "ns", "labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=a", {"app": "a"}, True),
        ("app==a", {"app": "b"}, False),
        ("app!=a", {}, True),
        ("app", {"app": ""}, True),
        ("!app", {"app": "a"}, False),
        ("app in (a, b),tier notin (x)", {"app": "b", "tier": "y"}, True),
        ("app in (a,b),tier", {"app": "b"}, False),
    ],
)
def test_label_selector_terms(selector: str, labels: dict[str, str], expected: bool) -> None:
    matches = label_selector(selector)
    assert matches is not None
    assert matches(labelled(**labels)) is expected


def test_selectors_reject_what_they_cannot_parse() -> None:
    assert label_selector("") is None
    with pytest.raises(InvalidInput, match=r"labelSelector 'a=b,=c' has a term '=c'"):
        label_selector("a=b,=c")
    with pytest.raises(InvalidInput, match=r"metadata\.name or metadata\.namespace"):
        field_selector("status.ready=true")
    name_is_x = field_selector("metadata.name=x,metadata.namespace==ns")
    assert name_is_x is not None
    assert name_is_x(labelled())


def test_events_are_selected_by_the_object_they_are_about() -> None:
    """`kubectl describe` lists an object's events with this selector."""
    event = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"kind": "MLService", "name": "a", "namespace": "ns", "uid": "u1"},
        "reason": "Ready",
        "source": {"component": "mls-controller"},
    }
    about_a = field_selector(
        "involvedObject.name=a,involvedObject.namespace=ns,"
        "involvedObject.kind=MLService,involvedObject.uid=u1",
        kind="Event",
    )
    assert about_a is not None
    assert about_a(event)
    assert not about_a({**event, "involvedObject": {**event["involvedObject"], "uid": "u2"}})
    by_source = field_selector("source=mls-controller,reason!=Failed", kind="Event")
    assert by_source is not None
    assert by_source(event)
    # Only Events have these fields, as in Kubernetes.
    with pytest.raises(InvalidInput, match=r"involvedObject\.name"):
        field_selector("involvedObject.name=a", kind="MLService")
