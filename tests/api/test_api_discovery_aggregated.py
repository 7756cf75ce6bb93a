"""Aggregated discovery v2 on `/api` and `/apis`, as kubectl 1.32 asks for it, and the legacy
documents for clients that do not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import BASE, AppClient, app_client

# What kubectl 1.32 sends.
KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[AppClient]:
    store = SqliteStore.in_memory(event_retention=10)
    client = app_client(tmp_path, store, "t0k")
    yield client
    client.close()
    store.close()


def _resources(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        resource["resource"]: resource
        for group in document["items"]
        for version in group["versions"]
        for resource in version["resources"]
    }


def test_apis_answers_aggregated_discovery_when_asked(api: AppClient) -> None:
    answer = api.get("/apis", headers={"Accept": KUBECTL_ACCEPT})
    assert answer.headers["content-type"] == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    document = answer.json()
    assert (document["kind"], document["apiVersion"]) == (
        "APIGroupDiscoveryList",
        "apidiscovery.k8s.io/v2",
    )
    assert [g["metadata"]["name"] for g in document["items"]] == [
        "tensorstack.dev",
        "serving.kserve.io",
    ]
    kserve = document["items"][1]
    assert [v["version"] for v in kserve["versions"]] == ["v1beta1", "v1alpha1"]
    resources = _resources(document)
    mlsvc = resources["mlservices"]
    assert mlsvc["responseKind"] == {
        "group": "tensorstack.dev",
        "version": "v1beta1",
        "kind": "MLService",
    }
    assert (mlsvc["scope"], mlsvc["shortNames"], mlsvc["categories"]) == (
        "Namespaced",
        ["mlsvc"],
        ["all"],
    )
    assert mlsvc["subresources"][0]["subresource"] == "status"
    assert resources["simplemlservices"]["categories"] == ["all"]
    assert resources["inferenceservices"]["shortNames"] == ["isvc"]
    # KServe's CRDs declare no categories; InferenceService stays out of `get all` as there.
    assert "categories" not in resources["inferenceservices"]
    assert resources["clusterservingruntimes"]["scope"] == "Cluster"
    assert "subresources" not in resources["servingruntimes"]


def test_api_answers_the_core_group_aggregated(api: AppClient) -> None:
    document = api.get("/api", headers={"Accept": KUBECTL_ACCEPT}).json()
    assert [g["metadata"]["name"] for g in document["items"]] == [""]
    resources = _resources(document)
    assert set(resources) == {
        "secrets",
        "persistentvolumeclaims",
        "serviceaccounts",
        "events",
        "pods",
    }
    assert resources["serviceaccounts"]["shortNames"] == ["sa"]
    # The replicas: read-only but for DELETE (a restart), with their `log` subresource.
    assert resources["pods"]["verbs"] == ["delete", "get", "list", "watch"]
    assert [s["subresource"] for s in resources["pods"]["subresources"]] == ["log"]
    assert resources["secrets"]["responseKind"] == {"group": "", "version": "v1", "kind": "Secret"}


def test_plain_json_clients_get_the_legacy_documents(api: AppClient) -> None:
    assert api.get("/api").json() == {"kind": "APIVersions", "versions": ["v1"]}
    legacy = api.get("/apis", headers={"Accept": "application/json"}).json()
    assert legacy["kind"] == "APIGroupList"
    # v2beta1 alone is not served aggregated: the client falls back to the legacy documents.
    beta = api.get("/apis", headers={"Accept": KUBECTL_ACCEPT.replace(";v=v2;", ";v=v3;")})
    assert beta.json()["kind"] == "APIGroupList"
    listed = api.get(BASE).json()["resources"]
    in_all = {r["kind"] for r in listed if "all" in r.get("categories", [])}
    assert in_all == {"MLService", "SimpleMLService"}
