"""KServe's kinds through the API in-process: namespaced and cluster-scoped paths, discovery,
watch, and the Status errors that name them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import AppClient, app_client
from tests.resources.kserve_manifests import isvc, runtime

V1BETA1 = "/apis/serving.kserve.io/v1beta1"
V1ALPHA1 = "/apis/serving.kserve.io/v1alpha1"
ISVCS = f"{V1BETA1}/namespaces/team-a/inferenceservices"
CSRS = f"{V1ALPHA1}/clusterservingruntimes"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore.in_memory()
    yield opened
    opened.close()


@pytest.fixture
def api(tmp_path: Path, store: SqliteStore) -> Iterator[AppClient]:
    client = app_client(tmp_path, store, "t0k")
    yield client
    client.close()


def test_inference_service_crud_at_namespaced_paths(api: AppClient) -> None:
    created = api.post(ISVCS, json=isvc())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["metadata"]["namespace"] == "team-a"
    assert body["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}
    assert api.get(f"{ISVCS}/sklearn-iris").json() == body
    api.post(f"{V1BETA1}/namespaces/team-b/inferenceservices", json=isvc("other"))
    everywhere = api.get(f"{V1BETA1}/inferenceservices").json()
    assert everywhere["kind"] == "InferenceServiceList"
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]] == [
        ("team-a", "sklearn-iris"),
        ("team-b", "other"),
    ]
    # What KServeClient.patch sends: the shortcut again, with a canary percentage.
    patch = {
        "spec": {"predictor": {"canaryTrafficPercent": 10, "sklearn": {"storageUri": "pvc://v2/"}}}
    }
    patched = api.patch(f"{ISVCS}/sklearn-iris", content=json.dumps(patch), headers=MERGE).json()
    assert patched["spec"]["predictor"] == {
        "canaryTrafficPercent": 10,
        "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "pvc://v2/"},
    }
    assert patched["metadata"]["generation"] == 2
    status = {"status": {"url": "http://sklearn-iris.team-a.localhost"}}
    reported = api.patch(f"{ISVCS}/sklearn-iris/status", content=json.dumps(status), headers=MERGE)
    assert reported.json()["status"] == status["status"]
    assert api.delete(f"{ISVCS}/sklearn-iris").status_code == 200
    gone = api.get(f"{ISVCS}/sklearn-iris")
    assert gone.status_code == 404
    assert gone.json()["details"] == {
        "kind": "inferenceservices",
        "group": "serving.kserve.io",
        "name": "sklearn-iris",
    }


def test_invalid_inference_service_is_a_422_with_the_hint(api: AppClient) -> None:
    reply = api.post(ISVCS, json=isvc(sklern={"storageUri": "pvc://m/"}))
    assert reply.status_code == 422
    causes = {c["field"]: c["message"] for c in reply.json()["details"]["causes"]}
    assert 'did you mean "sklearn"?' in causes["spec.predictor.sklern"]


def test_cluster_serving_runtimes_live_outside_namespaces(
    api: AppClient, store: SqliteStore
) -> None:
    sent = runtime()
    sent["metadata"]["namespace"] = "ignored"  # Kubernetes drops it for a cluster-scoped kind
    created = api.post(CSRS, json=sent)
    assert created.status_code == 201, created.text
    assert "namespace" not in created.json()["metadata"]
    assert store.get(Key("serving.kserve.io", "ClusterServingRuntime", "", "kserve-sklearnserver"))
    assert api.get(f"{CSRS}/kserve-sklearnserver").json() == created.json()
    listed = api.get(CSRS).json()
    assert listed["kind"] == "ClusterServingRuntimeList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["kserve-sklearnserver"]

    disabled = api.patch(
        f"{CSRS}/kserve-sklearnserver",
        content=json.dumps({"spec": {"disabled": True}}),
        headers=MERGE,
    ).json()
    assert disabled["spec"]["disabled"] is True
    replaced = api.put(f"{CSRS}/kserve-sklearnserver", json={**disabled, "spec": sent["spec"]})
    assert replaced.status_code == 200
    assert "disabled" not in replaced.json()["spec"]

    # No namespaced form, and no status subresource (KServe's runtime CRDs declare none).
    assert api.get(f"{V1ALPHA1}/namespaces/default/clusterservingruntimes").status_code == 404
    assert api.get(f"{CSRS}/kserve-sklearnserver/status").status_code == 404
    duplicate = api.post(CSRS, json=runtime())
    assert duplicate.status_code == 409
    assert duplicate.json()["message"] == (
        "ClusterServingRuntime kserve-sklearnserver already exists."
    )
    assert api.delete(f"{CSRS}/kserve-sklearnserver").status_code == 200
    assert api.get(f"{CSRS}/kserve-sklearnserver").status_code == 404


def test_a_namespaced_runtime_and_a_cluster_one_of_the_same_name_coexist(api: AppClient) -> None:
    namespaced = f"{V1ALPHA1}/namespaces/team-a/servingruntimes"
    assert api.post(namespaced, json=runtime("ServingRuntime")).status_code == 201
    assert api.post(CSRS, json=runtime()).status_code == 201
    assert api.get(f"{namespaced}/kserve-sklearnserver").json()["kind"] == "ServingRuntime"
    listed = api.get(f"{V1ALPHA1}/servingruntimes").json()["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed] == [
        ("team-a", "kserve-sklearnserver")
    ]
    wrong = api.post(namespaced, json=runtime())  # a ClusterServingRuntime body
    assert wrong.status_code == 400
    assert "path is for ServingRuntime" in wrong.json()["message"]


def test_watching_cluster_scoped_objects(api: AppClient) -> None:
    first = api.post(CSRS, json=runtime(name="a")).json()
    api.post(CSRS, json=runtime(name="b"))
    api.delete(f"{CSRS}/a")
    params = {
        "watch": "true",
        "resourceVersion": first["metadata"]["resourceVersion"],
        "timeoutSeconds": "1",
    }
    events = [json.loads(line) for line in api.get(CSRS, params=params).text.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]


def test_discovery_lists_kserves_group_and_resources(api: AppClient) -> None:
    groups = {g["name"]: g for g in api.get("/apis").json()["groups"]}
    assert list(groups) == ["tensorstack.dev", "serving.kserve.io"]
    kserve = groups["serving.kserve.io"]
    assert [v["version"] for v in kserve["versions"]] == ["v1beta1", "v1alpha1"]
    assert kserve["preferredVersion"]["groupVersion"] == "serving.kserve.io/v1beta1"
    assert api.get("/apis/serving.kserve.io").json()["kind"] == "APIGroup"

    v1beta1 = api.get(V1BETA1).json()
    assert v1beta1["groupVersion"] == "serving.kserve.io/v1beta1"
    isvcs = {r["name"]: r for r in v1beta1["resources"]}
    assert set(isvcs) == {"inferenceservices", "inferenceservices/status"}
    main = isvcs["inferenceservices"]
    assert (main["kind"], main["singularName"], main["shortNames"], main["namespaced"]) == (
        "InferenceService",
        "inferenceservice",
        ["isvc"],
        True,
    )
    assert {"create", "get", "list", "watch", "patch", "delete"} <= set(main["verbs"])
    assert "categories" not in main  # KServe's CRDs declare none

    runtimes = {r["name"]: r for r in api.get(V1ALPHA1).json()["resources"]}
    assert set(runtimes) == {
        "servingruntimes",
        "clusterservingruntimes",
        "trainedmodels",
        "trainedmodels/status",
    }
    assert runtimes["servingruntimes"]["namespaced"] is True
    assert runtimes["clusterservingruntimes"]["namespaced"] is False
    trained = runtimes["trainedmodels"]
    assert (trained["kind"], trained["shortNames"], trained["namespaced"]) == (
        "TrainedModel",
        ["tm"],
        True,
    )


def test_openapi_documents_the_kserve_operations(api: AppClient) -> None:
    spec = api.get("/openapi.json").json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "createNamespacedInferenceService",
        "listInferenceServiceForAllNamespaces",
        "patchNamespacedInferenceServiceStatus",
        "createClusterServingRuntime",
        "readClusterServingRuntime",
        "listClusterServingRuntime",
        "createNamespacedServingRuntime",
    } <= operations
    assert "readClusterServingRuntimeStatus" not in operations
    create = spec["paths"][f"{V1BETA1}/namespaces/{{namespace}}/inferenceservices"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/InferenceService"}
    isvc_schema = spec["components"]["schemas"]["InferenceService"]["properties"]
    assert isvc_schema["apiVersion"] == {"type": "string", "enum": ["serving.kserve.io/v1beta1"]}
    item = spec["paths"][f"{CSRS}/{{name}}"]["get"]
    assert [p["name"] for p in item["parameters"]] == ["name"]
