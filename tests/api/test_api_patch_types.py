"""PATCH content types (JSON patch, merge patch, strategic merge for core kinds), 415 for the
rest, `fieldValidation`, and the name a refused create's Status gives: in-process app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlservice.api.patch import STRATEGIC_MERGE_PATCH, json_patch, patcher
from mlservice.errors import InvalidInput, InvalidObject
from mlservice.resources.kinds import by_kind
from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import MLSVCS, AppClient, app_client, mlservice

JSON = {"Content-Type": "application/json-patch+json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
CORE = "/api/v1/namespaces/default"
ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[AppClient]:
    store = SqliteStore.in_memory(event_retention=10)
    client = app_client(tmp_path, store, "t0k")
    yield client
    client.close()
    store.close()


@pytest.mark.parametrize(
    ("doc", "ops", "result"),
    [  # RFC 6902 appendix A
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"foo": "bar", "baz": "qux"},
        ),
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "q"}],
            {"foo": ["bar", "q", "baz"]},
        ),
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["x"]}],
            {"foo": ["bar", ["x"]]},
        ),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        (
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        ({"baz": "qux"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo"}),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            {"foo": [1, 2, 3, 4]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": [1, 3, 4, 2]},
        ),
        (
            {"a": {"b": 1}},
            [{"op": "copy", "from": "/a", "path": "/c"}],
            {"a": {"b": 1}, "c": {"b": 1}},
        ),
        (
            {"/": 1, "~": 2},
            [{"op": "test", "path": "/~1", "value": 1}, {"op": "remove", "path": "/~0"}],
            {"/": 1},
        ),
        ({"foo": "bar"}, [{"op": "add", "path": "", "value": {"a": 1}}], {"a": 1}),
    ],
)
def test_rfc_6902_examples(doc: Any, ops: list[Any], result: Any) -> None:
    assert json_patch(doc, ops) == result


@pytest.mark.parametrize(
    ("ops", "error", "message"),
    [
        ({"op": "add"}, InvalidInput, "JSON array"),
        ([{"op": "frob", "path": "/a"}], InvalidInput, "unknown op 'frob'"),
        ([{"op": "add", "path": "/a"}], InvalidInput, "needs a 'value'"),
        ([{"op": "test", "path": "/a", "value": 2}], InvalidObject, "testing value '/a' failed"),
        ([{"op": "remove", "path": "/nope"}], InvalidObject, "'/nope' does not exist"),
        ([{"op": "add", "path": "/b/5", "value": 1}], InvalidObject, "out of range"),
        ([{"op": "replace", "path": "/b/01", "value": 1}], InvalidObject, "not an array index"),
        ([{"op": "move", "from": "/c", "path": "/c/d"}], InvalidObject, "its own child"),
    ],
)
def test_json_patch_refusals(ops: Any, error: type[Exception], message: str) -> None:
    doc = {"a": 1, "b": [0], "c": {}}
    with pytest.raises(error, match=message):
        json_patch(doc, ops)
    assert doc == {"a": 1, "b": [0], "c": {}}  # all or nothing, on a copy


def test_core_strategic_merge_keys_finalizers_and_atomic_lists() -> None:
    account = {
        "metadata": {
            "name": "sa",
            "finalizers": ["a"],
            "ownerReferences": [{"uid": "1", "name": "x"}],
        },
        "secrets": [{"name": "s3"}, {"name": "gcs"}],
        "imagePullSecrets": [{"name": "old"}],
    }
    patch = {
        "metadata": {
            "finalizers": ["b"],
            "$deleteFromPrimitiveList/finalizers": ["a"],
            "ownerReferences": [{"uid": "2", "name": "y"}],
        },
        "secrets": [{"name": "gcs", "$patch": "delete"}, {"name": "azure"}],
        "$setElementOrder/secrets": [{"name": "s3"}, {"name": "azure"}],
        "imagePullSecrets": [{"name": "new"}],
    }
    kind = by_kind("ServiceAccount")
    assert kind is not None
    strategic = patcher(kind, STRATEGIC_MERGE_PATCH)
    assert strategic is not None
    merged = strategic(account, patch)
    assert merged["metadata"]["finalizers"] == ["b"]
    assert [r["uid"] for r in merged["metadata"]["ownerReferences"]] == ["1", "2"]
    assert merged["secrets"] == [{"name": "s3"}, {"name": "azure"}]
    assert merged["imagePullSecrets"] == [{"name": "new"}]
    assert "$setElementOrder/secrets" not in merged
    with pytest.raises(InvalidInput, match="secrets in the strategic merge patch"):
        strategic(account, {"secrets": [{"namespace": "x"}]})
    with pytest.raises(InvalidInput, match=r"metadata\.ownerReferences"):
        strategic(account, {"metadata": {"ownerReferences": [{"name": "y"}]}})


def test_json_patch_of_a_custom_kind(api: AppClient) -> None:
    api.post(MLSVCS, json=mlservice("a", app="a"))
    ops = [
        {"op": "test", "path": "/spec/default", "value": "v1"},
        {"op": "add", "path": "/metadata/labels/tier", "value": "gold"},
        {"op": "replace", "path": "/spec/releases/0/name", "value": "v2"},
        {"op": "replace", "path": "/spec/default", "value": "v2"},
    ]
    patched = api.patch(f"{MLSVCS}/a", content=json.dumps(ops), headers=JSON)
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["labels"] == {"app": "a", "tier": "gold"}
    assert patched.json()["spec"]["default"] == "v2"
    failed = api.patch(f"{MLSVCS}/a", content=json.dumps(ops[:1]), headers=JSON)
    assert failed.status_code == 422
    assert failed.json()["reason"] == "Invalid"
    # The result is admitted like any write: a dangling `default` names its field.
    dangling = [{"op": "replace", "path": "/spec/default", "value": "zz"}]
    refused = api.patch(f"{MLSVCS}/a", content=json.dumps(dangling), headers=JSON)
    assert refused.status_code == 422
    assert refused.json()["details"]["causes"][0]["field"] == "spec.default"
    stale = [{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}]
    assert api.patch(f"{MLSVCS}/a", content=json.dumps(stale), headers=JSON).status_code == 409


def test_strategic_merge_of_core_kinds_only(api: AppClient) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"a": "1"},
    }
    assert api.post(f"{CORE}/secrets", json=secret).status_code == 201
    patch = {"metadata": {"labels": {"x": "y"}}, "stringData": {"b": "2"}}
    patched = api.patch(f"{CORE}/secrets/s", content=json.dumps(patch), headers=STRATEGIC)
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["labels"] == {"x": "y"}
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa"},
        "secrets": [{"name": "s3"}],
    }
    assert api.post(f"{CORE}/serviceaccounts", json=account).status_code == 201
    added = {"secrets": [{"name": "gcs"}]}
    merged = api.patch(f"{CORE}/serviceaccounts/sa", content=json.dumps(added), headers=STRATEGIC)
    assert merged.json()["secrets"] == [{"name": "s3"}, {"name": "gcs"}]
    # The same body as a merge patch replaces the list: the types differ.
    replaced = api.patch(f"{CORE}/serviceaccounts/sa", content=json.dumps(added), headers=MERGE)
    assert replaced.json()["secrets"] == [{"name": "gcs"}]
    refused = api.patch(f"{ISVCS}/missing", content="{}", headers=STRATEGIC)
    assert refused.status_code == 415
    assert refused.json()["message"].endswith(
        "accepted media types include: application/json-patch+json, application/merge-patch+json"
    )
    yaml_apply = {"Content-Type": "application/apply-patch+yaml"}
    unsupported = api.patch(f"{CORE}/secrets/s", content="{}", headers=yaml_apply)
    assert unsupported.status_code == 415
    assert unsupported.json()["message"].endswith("application/strategic-merge-patch+json")


def typo(name: str) -> dict[str, Any]:
    body = mlservice(name)
    body["spec"]["canaryTraficPercent"] = 20
    body["metadata"]["annotations"] = {"a": "b"}
    return body


def test_field_validation_modes(api: AppClient) -> None:
    strict = api.post(MLSVCS, json=typo("a"))  # no mode: Strict, as it always was here
    assert strict.status_code == 422
    assert strict.json()["details"]["causes"][0]["field"] == "spec.canaryTraficPercent"
    ignored = api.post(MLSVCS, json=typo("a"), params={"fieldValidation": "Ignore"})
    assert ignored.status_code == 201
    assert "Warning" not in ignored.headers
    assert "canaryTraficPercent" not in ignored.json()["spec"]
    warned = api.post(MLSVCS, json=typo("b"), params={"fieldValidation": "Warn"})
    assert warned.status_code == 201
    assert warned.headers.get_list("Warning") == [
        '299 - "unknown field \\"spec.canaryTraficPercent\\""'
    ]
    assert "canaryTraficPercent" not in warned.json()["spec"]
    patch = {"spec": {"bogus": 1, "canaryTraficPercent": 5}}
    both = api.patch(
        f"{MLSVCS}/b", content=json.dumps(patch), headers=MERGE, params={"fieldValidation": "Warn"}
    )
    assert both.status_code == 200
    assert len(both.headers.get_list("Warning")) == 2
    refused = api.patch(
        f"{MLSVCS}/b",
        content=json.dumps(patch),
        headers=MERGE,
        params={"fieldValidation": "Strict"},
    )
    assert refused.status_code == 422
    bad = api.post(MLSVCS, json=mlservice("c"), params={"fieldValidation": "Loose"})
    assert bad.status_code == 422
    assert bad.json()["details"]["causes"][0]["field"] == "fieldValidation"


def test_a_refused_create_names_the_object_it_was_given(api: AppClient) -> None:
    named = api.post(MLSVCS, json=typo("typo"))
    assert named.json()["details"]["name"] == "typo"
    assert named.json()["details"]["kind"] == "MLService"  # kubectl: The MLService "typo" ...
    body = typo("")
    body["metadata"] = {"generateName": "auto-"}
    generated = api.post(MLSVCS, json=body)
    assert generated.json()["details"]["name"] == "auto-"
