"""Acceptance: the official kubernetes client drives a real `mls up` process."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
from kubernetes import client as kube
from kubernetes import watch
from kubernetes.client.rest import ApiException

from mlservice.cli.background import UpProcess
from tests.resources.kserve_manifests import isvc, runtime

pytestmark = pytest.mark.e2e
GROUP, VERSION, PLURAL = "tensorstack.dev", "v1beta1", "mlservices"
KSERVE = "serving.kserve.io"


def mlservice(name: str, *, default: str = "v1") -> dict[str, Any]:
    release = {
        "name": default,
        "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://m/"}},
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MLService",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"default": default, "releases": [release]},
    }


def status_of(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    return body


def test_create_get_list_patch_replace_delete(kube_api: kube.ApiClient, namespace: str) -> None:
    api = kube.CustomObjectsApi(kube_api)
    created = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("a"))
    assert created["metadata"]["namespace"] == namespace
    assert created["metadata"]["generation"] == 1
    assert created["spec"]["releases"][0]["predictor"]["minReplicas"] == 1  # defaulted

    got = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    assert got == created
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("b"))
    listed = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    assert listed["kind"] == "MLServiceList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    selected = api.list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, label_selector="app=b"
    )
    assert [i["metadata"]["name"] for i in selected["items"]] == ["b"]
    everywhere = api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    assert {(namespace, "a"), (namespace, "b")} <= {
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere
    }

    patched = api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"labels": {"tier": "gold"}}}
    )
    assert patched["metadata"]["labels"] == {"app": "a", "tier": "gold"}
    assert patched["metadata"]["generation"] == 1  # metadata only

    fresh = dict(patched, spec=mlservice("a", default="v2")["spec"])
    replaced = api.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", fresh)
    assert replaced["metadata"]["generation"] == 2
    assert int(replaced["metadata"]["resourceVersion"]) > int(
        patched["metadata"]["resourceVersion"]
    )

    with pytest.raises(ApiException) as stale:
        api.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", fresh)
    assert stale.value.status == 409
    assert status_of(stale.value)["kind"] == "Status"
    assert status_of(stale.value)["reason"] == "Conflict"

    deleted = api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ApiException) as gone:
        api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")
    assert gone.value.status == 404
    assert status_of(gone.value)["details"] == {"kind": PLURAL, "group": GROUP, "name": "a"}


def test_create_twice_is_already_exists(kube_api: kube.ApiClient, namespace: str) -> None:
    api = kube.CustomObjectsApi(kube_api)
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("a"))
    with pytest.raises(ApiException) as err:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("a"))
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "AlreadyExists"


def test_invalid_manifest_is_a_422_status_naming_the_field(
    kube_api: kube.ApiClient, namespace: str
) -> None:
    bad = mlservice("a")
    bad["spec"]["default"] = "missing"
    with pytest.raises(ApiException) as err:
        kube.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, bad
        )
    assert err.value.status == 422
    causes = status_of(err.value)["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.default"]


def test_status_subresource_is_separate_from_spec(kube_api: kube.ApiClient, namespace: str) -> None:
    api = kube.CustomObjectsApi(kube_api)
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("a"))
    reported = api.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "a", {"status": {"observedGeneration": 1}}
    )
    assert reported["status"] == {"observedGeneration": 1}
    assert reported["metadata"]["generation"] == 1
    sneaky = dict(reported, status={"observedGeneration": 99})
    kept = api.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a", sneaky)
    assert kept["status"] == {"observedGeneration": 1}


def test_watch_streams_changes(kube_api: kube.ApiClient, namespace: str) -> None:
    api = kube.CustomObjectsApi(kube_api)
    first = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("a"))

    def write() -> None:
        api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "a", {"metadata": {"labels": {"x": "y"}}}
        )
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, mlservice("b"))
        api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "a")

    seen: list[tuple[str, str]] = []
    stream = watch.Watch()
    writer = threading.Thread(target=write)
    for event in stream.stream(
        api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, timeout_seconds=30
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == 1:
            writer.start()  # after the watch is open, so nothing can slip past it
        if len(seen) == 4:
            stream.stop()
    writer.join(timeout=30)
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]

    resumed = [
        (e["type"], e["object"]["metadata"]["name"])
        for e in watch.Watch().stream(
            api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            resource_version=first["metadata"]["resourceVersion"],
            timeout_seconds=1,
        )
    ]
    assert resumed == seen[1:]


def test_request_without_token_is_401(mls_up: UpProcess, namespace: str) -> None:
    anonymous = kube.ApiClient(kube.Configuration(host=mls_up.api))
    with anonymous, pytest.raises(ApiException) as err:
        kube.CustomObjectsApi(anonymous).list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL
        )
    assert err.value.status == 401
    assert status_of(err.value)["reason"] == "Unauthorized"
    wrong = kube.Configuration(host=mls_up.api)
    wrong.api_key, wrong.api_key_prefix = {"authorization": "nope"}, {"authorization": "Bearer"}
    with kube.ApiClient(wrong) as guessing, pytest.raises(ApiException) as err:
        kube.CustomObjectsApi(guessing).list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL
        )
    assert err.value.status == 401


def test_discovery_lists_the_kinds(kube_api: kube.ApiClient) -> None:
    groups = kube.ApisApi(kube_api).get_api_versions()
    assert [g.name for g in groups.groups] == [GROUP, KSERVE]
    resources = kube.CustomObjectsApi(kube_api).get_api_resources(GROUP, VERSION)
    names = {r.name: r for r in resources.resources}
    assert names["mlservices"].short_names == ["mlsvc"]
    assert "watch" in names["mlservices"].verbs
    assert "mlservices/status" in names
    core = kube.CoreV1Api(kube_api).get_api_resources()
    assert {r.name for r in core.resources} >= {"secrets", "persistentvolumeclaims"}


def test_secrets_round_trip_and_never_reach_the_log(
    mls_up: UpProcess, kube_api: kube.ApiClient, namespace: str
) -> None:
    value = "s3cr3t-value-that-must-not-leak"
    core = kube.CoreV1Api(kube_api)
    body = kube.V1Secret(metadata=kube.V1ObjectMeta(name="creds"), string_data={"password": value})
    created = core.create_namespaced_secret(namespace, body)
    assert base64.b64decode(created.data["password"]).decode() == value
    assert created.string_data is None  # write-only, folded into data
    core.patch_namespaced_secret("creds", namespace, {"metadata": {"labels": {"a": "b"}}})
    listed = core.list_namespaced_secret(namespace)
    assert [s.metadata.name for s in listed.items] == ["creds"]
    bad = kube.V1Secret(metadata=kube.V1ObjectMeta(name="bad"), data={"k": value + "!"})
    with pytest.raises(ApiException):
        core.create_namespaced_secret(namespace, bad)
    core.delete_namespaced_secret("creds", namespace)
    log = mls_up.log()
    encoded = base64.b64encode(value.encode()).decode()
    assert value not in log
    assert encoded not in log


def test_pvc_create_makes_the_volume(
    mls_up: UpProcess, kube_api: kube.ApiClient, namespace: str
) -> None:
    name = f"vol-{namespace}"[:63]
    claim = kube.V1PersistentVolumeClaim(
        metadata=kube.V1ObjectMeta(name=name),
        spec=kube.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=kube.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
        ),
    )
    created = kube.CoreV1Api(kube_api).create_namespaced_persistent_volume_claim(namespace, claim)
    assert created.status.phase == "Bound"
    assert mls_up.home.volume(name).is_dir()


def test_inference_service_through_custom_objects_api(
    kube_api: kube.ApiClient, namespace: str
) -> None:
    api = kube.CustomObjectsApi(kube_api)
    plural = "inferenceservices"
    created = api.create_namespaced_custom_object(KSERVE, "v1beta1", namespace, plural, isvc())
    assert created["metadata"]["namespace"] == namespace
    assert created["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}
    got = api.get_namespaced_custom_object(KSERVE, "v1beta1", namespace, plural, "sklearn-iris")
    assert got == created
    listed = api.list_namespaced_custom_object(KSERVE, "v1beta1", namespace, plural)
    assert listed["kind"] == "InferenceServiceList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["sklearn-iris"]
    everywhere = api.list_cluster_custom_object(KSERVE, "v1beta1", plural)["items"]
    assert (namespace, "sklearn-iris") in {
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere
    }
    patched = api.patch_namespaced_custom_object(
        KSERVE,
        "v1beta1",
        namespace,
        plural,
        "sklearn-iris",
        {"spec": {"predictor": {"canaryTrafficPercent": 10}}},
    )
    assert patched["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert patched["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as bad:
        api.patch_namespaced_custom_object(
            KSERVE,
            "v1beta1",
            namespace,
            plural,
            "sklearn-iris",
            {"spec": {"predictor": {"canaryTrafficPercnt": 10}}},
        )
    assert bad.value.status == 422
    cause = status_of(bad.value)["details"]["causes"][0]
    assert cause["field"] == "spec.predictor.canaryTrafficPercnt"
    assert 'did you mean "canaryTrafficPercent"?' in cause["message"]
    api.delete_namespaced_custom_object(KSERVE, "v1beta1", namespace, plural, "sklearn-iris")
    with pytest.raises(ApiException) as gone:
        api.get_namespaced_custom_object(KSERVE, "v1beta1", namespace, plural, "sklearn-iris")
    assert gone.value.status == 404


def test_cluster_serving_runtime_through_cluster_custom_object_calls(
    kube_api: kube.ApiClient, namespace: str
) -> None:
    api = kube.CustomObjectsApi(kube_api)
    plural, name = "clusterservingruntimes", f"rt-{namespace}"[:63]
    created = api.create_cluster_custom_object(KSERVE, "v1alpha1", plural, runtime(name=name))
    assert "namespace" not in created["metadata"]
    assert created["spec"]["containers"][0]["args"][0] == "--model_name={{.Name}}"
    assert api.get_cluster_custom_object(KSERVE, "v1alpha1", plural, name) == created
    listed = api.list_cluster_custom_object(KSERVE, "v1alpha1", plural)
    assert name in [i["metadata"]["name"] for i in listed["items"]]
    patched = api.patch_cluster_custom_object(
        KSERVE, "v1alpha1", plural, name, {"spec": {"disabled": True}}
    )
    assert patched["spec"]["disabled"] is True
    with pytest.raises(ApiException) as taken:
        api.create_cluster_custom_object(KSERVE, "v1alpha1", plural, runtime(name=name))
    assert status_of(taken.value)["reason"] == "AlreadyExists"
    api.delete_cluster_custom_object(KSERVE, "v1alpha1", plural, name)
    with pytest.raises(ApiException) as gone:
        api.get_cluster_custom_object(KSERVE, "v1alpha1", plural, name)
    assert gone.value.status == 404


def test_kserve_discovery(kube_api: kube.ApiClient) -> None:
    api = kube.CustomObjectsApi(kube_api)
    isvcs = {r.name: r for r in api.get_api_resources(KSERVE, "v1beta1").resources}
    assert isvcs["inferenceservices"].short_names == ["isvc"]
    assert isvcs["inferenceservices"].namespaced is True
    runtimes = {r.name: r for r in api.get_api_resources(KSERVE, "v1alpha1").resources}
    assert runtimes["clusterservingruntimes"].namespaced is False
    assert runtimes["servingruntimes"].namespaced is True
