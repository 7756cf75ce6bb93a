"""The API app in-process (httpx over ASGI): admission, Status errors, selectors, watch."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlservice.api.auth import load_or_create_token
from mlservice.home import Home
from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import BASE, MLSVCS, AppClient, app_client, mlservice


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


def test_token_file_is_private_and_stable(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    token = load_or_create_token(home)
    assert len(token) >= 32
    assert stat.S_IMODE(home.token.stat().st_mode) == 0o600
    assert load_or_create_token(home) == token


def test_only_health_and_openapi_are_open(tmp_path: Path, store: SqliteStore) -> None:
    anonymous = app_client(tmp_path, store, None)
    try:
        assert anonymous.get("/healthz").text == "ok"
        spec = anonymous.get("/openapi.json").json()
        denied = anonymous.get(MLSVCS, headers={"Authorization": "Bearer wrong"})
        missing = anonymous.get(MLSVCS)
    finally:
        anonymous.close()
    assert missing.status_code == 401
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"createNamespacedMLService", "patchNamespacedSecretStatus"} <= operations
    create = spec["paths"][MLSVCS.replace("default", "{namespace}")]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/MLService"}
    assert "releases" in spec["components"]["schemas"]["MLServiceSpec"]["properties"]
    assert "watch" in {
        p["name"]
        for p in spec["paths"][MLSVCS.replace("default", "{namespace}")]["get"]["parameters"]
    }
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"].startswith("Bearer")
    assert denied.json()["kind"] == "Status"


def test_path_decides_namespace_and_name(api: AppClient) -> None:
    wrong_ns = mlservice("a")
    wrong_ns["metadata"]["namespace"] = "other"
    reply = api.post(MLSVCS, json=wrong_ns)
    assert reply.status_code == 400
    assert "metadata.namespace 'other'" in reply.json()["message"]
    api.post(MLSVCS, json=mlservice("a"))
    renamed = api.put(f"{MLSVCS}/a", json=mlservice("b"))
    assert renamed.status_code == 400
    assert "metadata.name 'b'" in renamed.json()["message"]
    as_runtime = api.post(MLSVCS, json={**mlservice("c"), "kind": "MLServiceRuntime"})
    assert as_runtime.status_code == 400
    assert "path is for MLService" in as_runtime.json()["message"]


def test_malformed_requests_are_bad_request_statuses(api: AppClient) -> None:
    not_json = api.post(MLSVCS, content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.json()["message"].startswith("The request body is not valid JSON")
    assert api.post(MLSVCS, json=["a"]).status_code == 400
    unknown = api.get(f"{BASE}/namespaces/default/widgets")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "NotFound")
    assert (
        api.get(MLSVCS, params={"timeoutSeconds": "soon"}).json()["details"]["causes"][0]["field"]
        == "timeoutSeconds"
    )


def test_generate_name_and_delete_preconditions(api: AppClient) -> None:
    body = mlservice("")
    body["metadata"] = {"generateName": "auto-"}
    created = api.post(MLSVCS, json=body).json()
    name = created["metadata"]["name"]
    assert name.startswith("auto-")
    assert len(name) == len("auto-") + 5
    stale = api.request(
        "DELETE", f"{MLSVCS}/{name}", json={"preconditions": {"resourceVersion": "0"}}
    )
    assert stale.status_code == 409
    assert api.delete(f"{MLSVCS}/{name}").json()["metadata"]["name"] == name


def test_merge_patch_rules(api: AppClient) -> None:
    api.post(MLSVCS, json=mlservice("a", app="a", tier="x"))
    merge = {"Content-Type": "application/merge-patch+json"}
    dropped = api.patch(
        f"{MLSVCS}/a", content=json.dumps({"metadata": {"labels": {"tier": None}}}), headers=merge
    )
    assert dropped.json()["metadata"]["labels"] == {"app": "a"}
    pinned = {"metadata": {"resourceVersion": "1"}, "spec": {"canary": None}}
    assert api.patch(f"{MLSVCS}/a", content=json.dumps(pinned), headers=merge).status_code == 409
    invalid = api.patch(
        f"{MLSVCS}/a", content=json.dumps({"spec": {"default": "zz"}}), headers=merge
    )
    assert invalid.status_code == 422
    assert invalid.json()["details"]["causes"][0]["field"] == "spec.default"
    strategic = {"Content-Type": "application/strategic-merge-patch+json"}
    refused = api.patch(f"{MLSVCS}/a", content="{}", headers=strategic)
    # As Kubernetes refuses a strategic merge patch of a custom resource.
    assert refused.status_code == 415
    assert refused.json()["reason"] == "UnsupportedMediaType"
    assert refused.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json"
    )


def test_selectors_filter_lists(api: AppClient) -> None:
    for name, tier in (("a", "gold"), ("b", "silver"), ("c", "gold")):
        api.post(MLSVCS, json=mlservice(name, tier=tier))
    api.post(f"{BASE}/namespaces/other/mlservices", json=mlservice("a", tier="gold"))

    def names(path: str, **params: str) -> list[str]:
        return [i["metadata"]["name"] for i in api.get(path, params=params).json()["items"]]

    assert names(MLSVCS, labelSelector="tier=gold") == ["a", "c"]
    assert names(MLSVCS, labelSelector="tier notin (gold)") == ["b"]
    assert names(MLSVCS, fieldSelector="metadata.name!=a") == ["b", "c"]
    assert names(f"{BASE}/mlservices", labelSelector="tier in (gold,bronze)") == ["a", "c", "a"]
    bad = api.get(MLSVCS, params={"fieldSelector": "spec.default=v1"})
    assert bad.status_code == 400
    assert "fieldSelector 'spec.default=v1'" in bad.json()["message"]


def test_watch_resumes_after_a_version_and_expires_old_ones(api: AppClient) -> None:
    first = api.post(MLSVCS, json=mlservice("a")).json()
    api.post(MLSVCS, json=mlservice("b"))
    params = {
        "watch": "true",
        "resourceVersion": first["metadata"]["resourceVersion"],
        "timeoutSeconds": "1",
    }
    lines = api.get(MLSVCS, params=params).text.splitlines()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in map(json.loads, lines)] == [
        ("ADDED", "b")
    ]
    for i in range(30):  # past the retention of 10 events
        api.post(MLSVCS, json=mlservice(f"n{i}"))
    expired = [
        json.loads(line)
        for line in api.get(MLSVCS, params={**params, "resourceVersion": "1"}).text.splitlines()
    ]
    assert expired[0]["type"] == "ERROR"
    assert (expired[0]["object"]["code"], expired[0]["object"]["reason"]) == (410, "Expired")


def test_discovery_documents(api: AppClient) -> None:
    assert api.get("/api").json()["versions"] == ["v1"]
    group = api.get("/apis").json()["groups"][0]
    assert group["preferredVersion"]["groupVersion"] == "tensorstack.dev/v1beta1"
    kinds = {r["kind"] for r in api.get(BASE).json()["resources"]}
    assert kinds == {"MLService", "SimpleMLService", "MLServiceRuntime"}
    assert {r["name"] for r in api.get("/api/v1").json()["resources"]} == {
        "secrets",
        "secrets/status",
        "persistentvolumeclaims",
        "persistentvolumeclaims/status",
        "serviceaccounts",
        "events",
        "events/status",
        "pods",
        "pods/log",
    }


def test_service_accounts_are_stored_with_their_secrets(api: AppClient) -> None:
    path = "/api/v1/namespaces/default/serviceaccounts"
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa", "namespace": "default"},
        "secrets": [{"name": "s3creds"}],
        "imagePullSecrets": [{"name": "registry"}],
    }
    assert api.post(path, json=account).status_code == 201
    stored = api.get(f"{path}/sa").json()
    assert stored["secrets"] == [{"name": "s3creds"}]
    assert stored["imagePullSecrets"] == [{"name": "registry"}]
    bad = api.post(path, json={**account, "secrets": [{"nmae": "x"}]})
    assert bad.status_code == 422
    assert "secrets[0]" in bad.text


def test_an_unexpected_failure_is_still_a_status(api: AppClient, store: SqliteStore) -> None:
    store.close()  # every query now fails inside sqlite3
    reply = api.get(MLSVCS)
    assert reply.status_code == 500
    assert reply.json()["kind"] == "Status"
    assert reply.json()["message"] == "Internal error; the mls up log has the details."
