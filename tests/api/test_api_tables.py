"""Server-side printing in-process: a GET that asks for a `meta.k8s.io` Table gets one, with the
columns `mls get` prints (KServe's and Kubernetes' where kubectl expects theirs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import MLSVCS, AppClient, app_client, mlservice
from tests.cli.test_cli_kserve_output import ROLLING
from tests.resources.kserve_manifests import isvc

# What kubectl 1.32 sends for `get`.
KUBECTL = {
    "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
}
ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
CORE = "/api/v1/namespaces/default"


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore.in_memory(event_retention=10)
    yield opened
    opened.close()


@pytest.fixture
def api(tmp_path: Path, store: SqliteStore) -> Iterator[AppClient]:
    client = app_client(tmp_path, store, "t0k")
    yield client
    client.close()


def _table(api: AppClient, url: str, **params: str) -> dict[str, Any]:
    answer = api.get(url, headers=KUBECTL, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json;as=Table;v=v1")
    body: dict[str, Any] = answer.json()
    assert (body["kind"], body["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    return body


def _headers(table: dict[str, Any]) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in table["columnDefinitions"]]


def test_a_list_of_mlservices_is_a_table_with_the_cli_columns(api: AppClient) -> None:
    assert api.post(MLSVCS, json=mlservice("iris")).status_code == 201
    listed = api.get(MLSVCS).json()
    table = _table(api, MLSVCS)
    assert _headers(table) == [
        ("NAME", 0),
        ("READY", 0),
        ("URL", 0),
        ("DEFAULT", 0),
        ("CANARY", 0),
        ("AGE", 0),
        ("RELEASES", 1),
        ("GENERATION", 1),
    ]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["metadata"]["resourceVersion"] == listed["metadata"]["resourceVersion"]
    [row] = table["rows"]
    assert row["cells"][:5] == ["iris", "", "", "v1", ""]
    assert row["cells"][5].endswith("s")  # an age: just created
    assert row["cells"][7] == "-/1"
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": listed["items"][0]["metadata"],
    }


def test_an_inference_service_has_kserves_columns(api: AppClient) -> None:
    created = api.post(ISVCS, json=isvc()).json()
    created["status"] = ROLLING["status"]
    assert api.put(f"{ISVCS}/sklearn-iris/status", json=created).status_code == 200
    for table in (_table(api, ISVCS), _table(api, f"{ISVCS}/sklearn-iris")):
        assert _headers(table) == [
            ("NAME", 0),
            ("URL", 0),
            ("READY", 0),
            ("PREV", 0),
            ("LATEST", 0),
            ("PREVROLLEDOUTREVISION", 1),
            ("LATESTREADYREVISION", 1),
            ("AGE", 0),
        ]
        [row] = table["rows"]
        assert row["cells"][:7] == [
            "sklearn-iris",
            "http://sklearn-iris.team.localhost:8080",
            "True",
            "90",
            "10",
            "sklearn-iris-predictor-00001",
            "sklearn-iris-predictor-00002",
        ]
    single = api.get(f"{ISVCS}/sklearn-iris").json()
    assert table["metadata"]["resourceVersion"] == single["metadata"]["resourceVersion"]


def test_core_kinds_have_kubernetes_columns(api: AppClient) -> None:
    secret = {"metadata": {"name": "s3"}, "type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}}
    assert api.post(f"{CORE}/secrets", json=secret).status_code == 201
    table = _table(api, f"{CORE}/secrets")
    assert [c["name"] for c in table["columnDefinitions"]] == ["NAME", "TYPE", "DATA", "AGE"]
    assert table["rows"][0]["cells"][:3] == ["s3", "Opaque", 2]
    assert table["columnDefinitions"][2]["type"] == "integer"

    account = {"metadata": {"name": "sa"}, "secrets": [{"name": "s3"}]}
    assert api.post(f"{CORE}/serviceaccounts", json=account).status_code == 201
    table = _table(api, f"{CORE}/serviceaccounts")
    assert [c["name"] for c in table["columnDefinitions"]] == ["NAME", "SECRETS", "AGE"]
    assert table["rows"][0]["cells"][:2] == ["sa", 1]

    claim = {
        "metadata": {"name": "models"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert api.post(f"{CORE}/persistentvolumeclaims", json=claim).status_code == 201
    table = _table(api, f"{CORE}/persistentvolumeclaims")
    assert _headers(table) == [
        ("NAME", 0),
        ("STATUS", 0),
        ("VOLUME", 0),
        ("CAPACITY", 0),
        ("ACCESS MODES", 0),
        ("STORAGECLASS", 0),
        ("VOLUMEATTRIBUTESCLASS", 0),
        ("AGE", 0),
        ("VOLUMEMODE", 1),
    ]
    assert table["rows"][0]["cells"][:2] == ["models", "Bound"]
    assert table["rows"][0]["cells"][4] == "RWO"


def test_events_have_kubernetes_columns(api: AppClient) -> None:
    event = {
        "metadata": {"name": "iris.1"},
        "involvedObject": {"kind": "MLService", "name": "iris", "namespace": "default"},
        "type": "Normal",
        "reason": "Ready",
        "message": "all replicas ready",
        "count": 3,
        "lastTimestamp": "2024-05-01T12:00:00Z",
    }
    assert api.post(f"{CORE}/events", json=event).status_code == 201, "event"
    table = _table(api, f"{CORE}/events")
    assert _headers(table)[:4] == [("LAST SEEN", 0), ("TYPE", 0), ("REASON", 0), ("OBJECT", 0)]
    assert ("NAME", 1) in _headers(table)
    names = [c["name"] for c in table["columnDefinitions"]]
    cells = dict(zip(names, table["rows"][0]["cells"], strict=True))
    assert cells["OBJECT"] == "mlservice/iris"
    assert cells["MESSAGE"] == "all replicas ready"
    assert cells["COUNT"] == 3
    assert cells["NAME"] == "iris.1"
    assert cells["LAST SEEN"].endswith("d")


def test_include_object_is_honoured(api: AppClient) -> None:
    created = api.post(MLSVCS, json=mlservice("iris")).json()
    assert _table(api, MLSVCS, includeObject="Object")["rows"][0]["object"] == created
    assert "object" not in _table(api, MLSVCS, includeObject="None")["rows"][0]
    bad = api.get(MLSVCS, headers=KUBECTL, params={"includeObject": "All"})
    assert bad.status_code == 400
    assert "includeObject" in bad.json()["message"]


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        (None, "MLServiceList"),
        ("application/json", "MLServiceList"),
        ("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", "MLServiceList"),
        ("application/json;as=Table;v=v2;g=meta.k8s.io", "MLServiceList"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", "Table"),
    ],
)
def test_only_a_table_preferred_is_a_table(api: AppClient, accept: str | None, kind: str) -> None:
    api.post(MLSVCS, json=mlservice("iris"))
    answer = api.get(MLSVCS, headers={"Accept": accept} if accept else {}).json()
    assert answer["kind"] == kind
    if kind == "Table":
        assert answer["apiVersion"] == "meta.k8s.io/v1beta1"


def test_a_watch_streams_one_row_tables(api: AppClient) -> None:
    first = api.post(MLSVCS, json=mlservice("a")).json()
    second = api.post(MLSVCS, json=mlservice("b")).json()
    params = {
        "watch": "true",
        "resourceVersion": first["metadata"]["resourceVersion"],
        "timeoutSeconds": "1",
    }
    answer = api.get(MLSVCS, headers=KUBECTL, params=params)
    assert answer.headers["content-type"].startswith("application/json;as=Table;v=v1")
    [event] = [json.loads(line) for line in answer.text.splitlines()]
    assert event["type"] == "ADDED"
    table = event["object"]
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert table["columnDefinitions"][1]["name"] == "READY"
    assert table["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    [row] = table["rows"]
    assert row["cells"][0] == "b"
    assert row["object"]["metadata"] == second["metadata"]
    # An expired version is still the ERROR Status clients re-list on, not a Table.
    for i in range(30):
        api.post(MLSVCS, json=mlservice(f"n{i}"))
    expired = api.get(MLSVCS, headers=KUBECTL, params={**params, "resourceVersion": "1"})
    [error] = [json.loads(line) for line in expired.text.splitlines()]
    assert (error["type"], error["object"]["kind"], error["object"]["code"]) == (
        "ERROR",
        "Status",
        410,
    )


def test_a_bad_include_object_refuses_a_watch_before_it_starts(api: AppClient) -> None:
    params = {"watch": "true", "includeObject": "Everything", "timeoutSeconds": "5"}
    assert api.get(MLSVCS, headers=KUBECTL, params=params).status_code == 400
