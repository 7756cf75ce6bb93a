"""A table of invalid manifests: each error names exactly the fields at fault, by their path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from mlservice.errors import InvalidObject
from mlservice.resources import validate_object

Manifest = dict[str, Any]


def mlservice() -> Manifest:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "demo"},
        "spec": {
            "default": "v1",
            "releases": [
                {"name": "v1", "predictor": {"model": {"runtime": "torchserve"}}},
                {"name": "v2", "predictor": {"model": {"modelFormat": {"name": "pytorch"}}}},
            ],
        },
    }


def runtime() -> Manifest:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLServiceRuntime",
        "metadata": {"name": "torchserve"},
        "spec": {
            "supportedModelFormats": [{"name": "pytorch"}],
            "template": {
                "spec": {
                    "containers": [
                        {"name": "user-container", "ports": [{"containerPort": 8080}]},
                        {"name": "proxy"},
                    ]
                }
            },
        },
    }


def simple() -> Manifest:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "SimpleMLService",
        "metadata": {"name": "sample"},
        "spec": {
            "storage": {"pvc": {"name": "demo", "subPath": "path/mnist"}},
            "tensorflow": {"image": "tf"},
        },
    }


def secret() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s3", "labels": {"tensorstack.dev/resource": "s3"}},
        "stringData": {".s3cfg": "host_base = 127.0.0.1:9000\nuse_https = False\n"},
    }


def pvc() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "tutorial"},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
    }


def edit(base: Callable[[], Manifest], change: Callable[[Manifest], object]) -> Manifest:
    manifest = copy.deepcopy(base())
    change(manifest)
    return manifest


def spec(m: Manifest) -> Any:
    return m["spec"]


def predictor(m: Manifest, i: int = 0) -> Any:
    return m["spec"]["releases"][i]["predictor"]


def patch_container(m: Manifest) -> Any:
    predictor(m)["template"] = {"spec": {"containers": [{"name": "user-container"}]}}
    return predictor(m)["template"]["spec"]["containers"][0]


def ut_container(m: Manifest, i: int = 0) -> Any:
    return m["spec"]["template"]["spec"]["containers"][i]


R0 = "spec.releases[0]"
P0 = f"{R0}.predictor"
RT = "spec.template.spec.containers"

CASES: list[tuple[str, Manifest, list[str]]] = [
    # --- envelope ---
    ("kind typo", edit(mlservice, lambda m: m.update(kind="MLServce")), ["kind"]),
    ("kind missing", edit(mlservice, lambda m: m.pop("kind")), ["kind"]),
    ("apiVersion", edit(mlservice, lambda m: m.update(apiVersion="v1")), ["apiVersion"]),
    (
        "metadata name",
        edit(mlservice, lambda m: m["metadata"].update(name="Bad_Name")),
        ["metadata.name"],
    ),
    (
        "service name with a dot",
        edit(mlservice, lambda m: m["metadata"].update(name="a.b")),
        ["metadata.name"],
    ),
    (
        "release host label too long",
        edit(mlservice, lambda m: spec(m)["releases"][1].update(name="r" * 60)),
        ["spec.releases[1].name"],
    ),
    (
        "metadata typo",
        edit(mlservice, lambda m: m["metadata"].update(lables={})),
        ["metadata.lables"],
    ),
    (
        "namespace",
        edit(pvc, lambda m: m["metadata"].update(namespace="a.b")),
        ["metadata.namespace"],
    ),
    # --- MLService ---
    ("default missing", edit(mlservice, lambda m: spec(m).pop("default")), ["spec.default"]),
    ("default unknown", edit(mlservice, lambda m: spec(m).update(default="v9")), ["spec.default"]),
    ("canary unknown", edit(mlservice, lambda m: spec(m).update(canary="v9")), ["spec.canary"]),
    ("canary is default", edit(mlservice, lambda m: spec(m).update(canary="v1")), ["spec.canary"]),
    (
        "canary percent range",
        edit(mlservice, lambda m: spec(m).update(canary="v2", canaryTrafficPercent=101)),
        ["spec.canaryTrafficPercent"],
    ),
    (
        "canary percent alone",
        edit(mlservice, lambda m: spec(m).update(canaryTrafficPercent=20)),
        ["spec.canaryTrafficPercent"],
    ),
    ("no releases", edit(mlservice, lambda m: spec(m).update(releases=[])), ["spec.releases"]),
    (
        "duplicate release",
        edit(mlservice, lambda m: spec(m)["releases"][1].update(name="v1")),
        ["spec.releases[1].name"],
    ),
    (
        "release name",
        edit(mlservice, lambda m: spec(m)["releases"][1].update(name="V_2")),
        ["spec.releases[1].name"],
    ),
    (
        "predictor typo",
        edit(
            mlservice,
            lambda m: spec(m)["releases"][0].update(
                predcitor=spec(m)["releases"][0].pop("predictor")
            ),
        ),
        [f"{R0}.predcitor", f"{R0}.predictor"],
    ),
    (
        "no runtime or format",
        edit(mlservice, lambda m: predictor(m).update(model={})),
        [f"{P0}.model"],
    ),
    (
        "s3 without secret",
        edit(mlservice, lambda m: predictor(m)["model"].update(modelUri="s3://models/x/")),
        [f"{P0}.storage.s3Storage.secretName"],
    ),
    (
        "uri scheme",
        edit(mlservice, lambda m: predictor(m)["model"].update(modelUri="ftp://host/x")),
        [f"{P0}.model.modelUri"],
    ),
    (
        "uri escapes volume",
        edit(mlservice, lambda m: predictor(m)["model"].update(modelUri="pvc://vol/../other")),
        [f"{P0}.model.modelUri"],
    ),
    (
        "minReplicas",
        edit(mlservice, lambda m: predictor(m).update(minReplicas=-1)),
        [f"{P0}.minReplicas"],
    ),
    (
        "maxReplicas below min",
        edit(mlservice, lambda m: predictor(m).update(minReplicas=3, maxReplicas=2)),
        [f"{P0}.maxReplicas"],
    ),
    (
        "logger mode",
        edit(mlservice, lambda m: predictor(m).update(logger={"mode": "everything"})),
        [f"{P0}.logger.mode"],
    ),
    (
        "logger url",
        edit(mlservice, lambda m: predictor(m).update(logger={"urls": ["http://ok", "tcp://x"]})),
        [f"{P0}.logger.urls[1]"],
    ),
    (
        "ports in patch",
        edit(mlservice, lambda m: patch_container(m).update(ports=[{"containerPort": 9000}])),
        [f"{P0}.template.spec.containers[0].ports"],
    ),
    (
        "patch field typo",
        edit(mlservice, lambda m: patch_container(m).update(imagee="x")),
        [f"{P0}.template.spec.containers[0].imagee"],
    ),
    (
        "env value type",
        edit(mlservice, lambda m: patch_container(m).update(env=[{"name": "N", "value": 1}])),
        [f"{P0}.template.spec.containers[0].env[0].value"],
    ),
    (
        "quantity",
        edit(mlservice, lambda m: predictor(m).update(resources={"limits": {"cpu": "lots"}})),
        [f"{P0}.resources.limits[cpu]"],
    ),
    (
        "autoscaling metric",
        edit(
            mlservice,
            lambda m: predictor(m).update(
                template={"metadata": {"annotations": {"autoscaling.knative.dev/metric": "qps"}}}
            ),
        ),
        [f"{P0}.template.metadata.annotations[autoscaling.knative.dev/metric]"],
    ),
    (
        "transformer without containers",
        edit(mlservice, lambda m: spec(m).update(transformer={"template": {"spec": {}}})),
        ["spec.transformer.template.spec.containers"],
    ),
    ("paused type", edit(mlservice, lambda m: spec(m).update(paused="yes")), ["spec.paused"]),
    # --- MLServiceRuntime ---
    (
        "no user-container",
        edit(runtime, lambda m: ut_container(m).update(name="server")),
        [RT],
    ),
    (
        "two ports",
        edit(runtime, lambda m: ut_container(m)["ports"].append({"containerPort": 8081})),
        [f"{RT}[0].ports"],
    ),
    (
        "port on sidecar",
        edit(runtime, lambda m: ut_container(m, 1).update(ports=[{"containerPort": 9000}])),
        [f"{RT}[1].ports"],
    ),
    (
        "port range",
        edit(runtime, lambda m: ut_container(m)["ports"][0].update(containerPort=70000)),
        [f"{RT}[0].ports[0].containerPort"],
    ),
    (
        "runtime autoscaling annotation",
        edit(
            runtime,
            lambda m: spec(m)["template"].update(
                metadata={"annotations": {"autoscaling.knative.dev/target": "-1"}}
            ),
        ),
        ["spec.template.metadata.annotations[autoscaling.knative.dev/target]"],
    ),
    (
        "priority",
        edit(runtime, lambda m: spec(m)["supportedModelFormats"][0].update(priority=0)),
        ["spec.supportedModelFormats[0].priority"],
    ),
    (
        "probe typo",
        edit(runtime, lambda m: ut_container(m).update(readinessProbe={"httpget": {"port": 80}})),
        [f"{RT}[0].readinessProbe.httpget"],
    ),
    (
        "container name",
        edit(runtime, lambda m: ut_container(m, 1).update(name="Proxy")),
        [f"{RT}[1].name"],
    ),
    # --- SimpleMLService ---
    (
        "pytroch",
        edit(simple, lambda m: spec(m).update(pytroch=spec(m).pop("tensorflow"))),
        ["spec.pytroch"],
    ),
    ("two frameworks", edit(simple, lambda m: spec(m).update(pytorch={})), ["spec.pytorch"]),
    ("no framework", edit(simple, lambda m: spec(m).pop("tensorflow")), ["spec"]),
    (
        "absolute subPath",
        edit(simple, lambda m: spec(m)["storage"]["pvc"].update(subPath="/abs")),
        ["spec.storage.pvc.subPath"],
    ),
    (
        "subPath escapes",
        edit(simple, lambda m: spec(m)["storage"]["pvc"].update(subPath="a/../../b")),
        ["spec.storage.pvc.subPath"],
    ),
    (
        "s3 uri scheme",
        edit(
            simple, lambda m: spec(m)["storage"].update(s3={"secretName": "s", "uri": "pvc://x/y"})
        ),
        ["spec.storage.s3.uri"],
    ),
    ("replicas type", edit(simple, lambda m: spec(m).update(replicas="2")), ["spec.replicas"]),
    (
        "duplicate service port",
        edit(simple, lambda m: spec(m).update(service={"ports": [{"port": 80}, {"port": 80}]})),
        ["spec.service.ports[1]"],
    ),
    # --- Secret ---
    (
        "s3 secret without .s3cfg",
        edit(secret, lambda m: m.update(stringData={"other": "x"})),
        ["data[.s3cfg]"],
    ),
    (
        "bad base64",
        edit(secret, lambda m: m.update(data={"token": "not base64!"})),
        ["data[token]"],
    ),
    (
        "bad s3cfg",
        edit(secret, lambda m: m.update(stringData={".s3cfg": "host_base\n"})),
        ["stringData[.s3cfg]"],
    ),
    ("bad key", edit(secret, lambda m: m.update(stringData={"a/b": "x"})), ["stringData[a/b]"]),
    # --- PersistentVolumeClaim ---
    (
        "access mode",
        edit(pvc, lambda m: spec(m).update(accessModes=["ReadWriteSometimes"])),
        ["spec.accessModes[0]"],
    ),
    (
        "storage quantity",
        edit(pvc, lambda m: spec(m)["resources"]["requests"].update(storage="lots")),
        ["spec.resources.requests[storage]"],
    ),
]


@pytest.mark.parametrize(("manifest", "fields"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_manifest_names_exactly_the_bad_fields(
    manifest: Manifest, fields: list[str]
) -> None:
    with pytest.raises(InvalidObject) as caught:
        validate_object(manifest)
    assert [c.field for c in caught.value.causes] == fields
    assert caught.value.status_code == 422


def test_the_bases_of_the_table_are_valid() -> None:
    for base in (mlservice, runtime, simple, secret, pvc):
        validate_object(base())


def test_unknown_field_gets_a_did_you_mean_hint() -> None:
    manifest = edit(simple, lambda m: spec(m).update(pytroch=spec(m).pop("tensorflow")))
    with pytest.raises(InvalidObject) as caught:
        validate_object(manifest)
    first = caught.value.causes[0]
    assert first.message == 'unknown field "pytroch", did you mean "pytorch"?'
    assert first.reason == "FieldValueUnknown"
    assert caught.value.message.startswith(
        'SimpleMLService "default/sample" is invalid: spec.pytroch:'
    )


def test_kind_typo_is_hinted_and_wrong_values_are_named() -> None:
    with pytest.raises(InvalidObject) as caught:
        validate_object(edit(mlservice, lambda m: m.update(kind="MLServce")))
    assert 'did you mean "MLService"' in caught.value.causes[0].message
    with pytest.raises(InvalidObject) as caught:
        validate_object(edit(simple, lambda m: spec(m).update(replicas="2")))
    assert caught.value.causes[0].message == "Input should be a valid integer, got '2'"
    assert caught.value.causes[0].reason == "FieldValueTypeInvalid"


def test_an_unnamed_manifest_is_called_unnamed() -> None:
    with pytest.raises(InvalidObject) as caught:
        validate_object(edit(pvc, lambda m: m["metadata"].pop("name")))
    assert caught.value.message == (
        "PersistentVolumeClaim (unnamed) is invalid: metadata.name: required field is missing."
    )


def test_a_manifest_that_is_not_a_mapping_is_invalid() -> None:
    with pytest.raises(InvalidObject, match="must be a mapping"):
        validate_object(["not", "a", "manifest"])  # type: ignore[arg-type]
