"""`/openapi/v3`: the root index and one document per group-version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import BASE, AppClient, app_client

MLSVC_SCHEMA = "dev.tensorstack.v1beta1.MLService"
PATCH_PATH = f"{BASE}/namespaces/{{namespace}}/mlservices/{{name}}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[AppClient]:
    store = SqliteStore.in_memory(event_retention=10)
    client = app_client(tmp_path, store, "t0k")
    yield client
    client.close()
    store.close()


def test_root_lists_each_group_version_with_a_hash(api: AppClient) -> None:
    paths = api.get("/openapi/v3").json()["paths"]
    assert set(paths) == {
        "api/v1",
        "apis/tensorstack.dev/v1beta1",
        "apis/serving.kserve.io/v1beta1",
        "apis/serving.kserve.io/v1alpha1",
    }
    url = paths["apis/tensorstack.dev/v1beta1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/tensorstack.dev/v1beta1?hash=")
    assert api.get(url).status_code == 200
    assert api.get("/openapi/v3/apis/nowhere.dev/v1").status_code == 404


def test_group_version_document_names_schemas_as_kubernetes_does(api: AppClient) -> None:
    doc = api.get("/openapi/v3/apis/tensorstack.dev/v1beta1").json()
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    mlsvc = schemas[MLSVC_SCHEMA]
    assert mlsvc["x-kubernetes-group-version-kind"] == [
        {"group": "tensorstack.dev", "version": "v1beta1", "kind": "MLService"}
    ]
    assert mlsvc["properties"]["kind"]["enum"] == ["MLService"]
    assert mlsvc["additionalProperties"] is False
    spec_ref = mlsvc["properties"]["spec"]["$ref"]
    assert spec_ref == "#/components/schemas/dev.tensorstack.v1beta1.MLServiceSpec"
    assert "releases" in schemas["dev.tensorstack.v1beta1.MLServiceSpec"]["properties"]
    assert all(name.startswith("dev.tensorstack.v1beta1.") for name in schemas)
    # Every reference resolves inside the document.
    text = str(doc)
    for name in schemas:
        text = text.replace(f"#/components/schemas/{name}'", "")
    assert "#/components/schemas/" not in text
    assert "InferenceService" not in {s.rsplit(".", 1)[-1] for s in schemas}


def test_patch_operations_tell_kubectl_fields_are_validated_here(api: AppClient) -> None:
    doc = api.get("/openapi/v3/apis/tensorstack.dev/v1beta1").json()
    patch = doc["paths"][PATCH_PATH]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "MLService"
    assert "fieldValidation" in {p["name"] for p in patch["parameters"] if p["in"] == "query"}
    # No strategic merge: kubectl must send a merge patch for a kind it does not know.
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    isvc = api.get("/openapi/v3/apis/serving.kserve.io/v1beta1").json()
    assert "io.kserve.serving.v1beta1.InferenceService" in isvc["components"]["schemas"]
    core = api.get("/openapi/v3/api/v1").json()
    assert "io.k8s.api.core.v1.Secret" in core["components"]["schemas"]
    assert "/api/v1/namespaces/{namespace}/secrets/{name}" in core["paths"]


def test_nullable_fields_are_openapi_30(api: AppClient) -> None:
    schemas = api.get("/openapi/v3/apis/tensorstack.dev/v1beta1").json()["components"]["schemas"]
    assert '"type": "null"' not in str(schemas).replace("'", '"')


def test_openapi_v3_needs_the_token(tmp_path: Path) -> None:
    store = SqliteStore.in_memory(event_retention=10)
    anonymous = app_client(tmp_path, store, None)
    try:
        assert anonymous.get("/openapi/v3").status_code == 401
        assert anonymous.get("/openapi/v3/api/v1").status_code == 401
    finally:
        anonymous.close()
        store.close()
