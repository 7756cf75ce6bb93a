"""Defaults, pass-through fields, Secret folding, and the typed models controllers read."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlservice.errors import InvalidInput, InvalidObject
from mlservice.resources import (
    MLService,
    MLServiceRuntime,
    PersistentVolumeClaim,
    Secret,
    SimpleMLService,
    parse,
    parse_as,
    validate_object,
)


def _mlservice(**predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "demo"},
        "spec": {
            "default": "v1",
            "releases": [{"name": "v1", "predictor": {"model": {"runtime": "rt"}, **predictor}}],
        },
    }


def test_mlservice_defaults_are_filled_in() -> None:
    out = validate_object(_mlservice(logger={"urls": ["http://127.0.0.1:9/"]}))
    predictor = out["spec"]["releases"][0]["predictor"]
    assert out["metadata"]["namespace"] == "default"
    assert predictor["minReplicas"] == 1
    assert "maxReplicas" not in predictor  # absent means unbounded, and stays absent
    assert predictor["logger"]["mode"] == "all"
    assert out["spec"]["paused"] is False


def test_transformer_and_simple_defaults() -> None:
    svc = _mlservice()
    svc["spec"]["transformer"] = {"template": {"spec": {"containers": [{"name": "t"}]}}}
    assert validate_object(svc)["spec"]["transformer"]["minReplicas"] == 1
    simple = validate_object(
        {
            "apiVersion": "tensorstack.dev/v1beta1",
            "kind": "SimpleMLService",
            "metadata": {"name": "s", "namespace": "team-a"},
            "spec": {"pytorch": {}, "storage": {"pvc": {"name": "v"}}},
        }
    )
    assert simple["metadata"]["namespace"] == "team-a"
    assert simple["spec"]["replicas"] == 1
    assert simple["spec"]["service"] == {"ports": [{"name": "http", "port": 8080}]}
    assert simple["spec"]["storage"]["pvc"]["containerPath"] == "/var/lib/t9k/model"


def test_runtime_defaults_and_serving_port() -> None:
    manifest = {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLServiceRuntime",
        "metadata": {"name": "rt"},
        "spec": {
            "supportedModelFormats": [{"name": "sklearn"}],
            "template": {"spec": {"containers": [{"name": "user-container"}]}},
        },
    }
    out = validate_object(manifest)
    assert out["spec"]["enabled"] is True
    assert out["spec"]["supportedModelFormats"][0]["autoSelect"] is True
    assert parse_as(MLServiceRuntime, manifest).container_port == 8080
    containers = manifest["spec"]["template"]["spec"]["containers"]
    containers[0]["ports"] = [{"containerPort": 9000}]
    assert parse_as(MLServiceRuntime, manifest).container_port == 9000


def test_server_managed_metadata_and_status_pass_through_untouched() -> None:
    manifest = _mlservice()
    manifest["metadata"].update(
        uid="0b9c",
        resourceVersion="42",
        generation=3,
        creationTimestamp="2024-01-01T00:00:00Z",
        finalizers=["x"],
        labels={"team": "a"},
    )
    manifest["status"] = {"ready": None, "releases": [{"name": "v1", "anything": {"x": None}}]}
    out = validate_object(manifest)
    assert out["metadata"] == {**manifest["metadata"], "namespace": "default"}
    assert out["status"] == manifest["status"]


def test_kubernetes_pod_fields_are_kept_and_typos_in_them_caught() -> None:
    container = {
        "name": "user-container",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"runAsUser": 1000},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}},
    }
    template = {
        "spec": {
            "containers": [container],
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "securityContext": {"fsGroup": 2000},
        }
    }
    out = validate_object(_mlservice(template=template))
    assert out["spec"]["releases"][0]["predictor"]["template"] == template
    template["spec"]["nodeSelecter"] = template["spec"].pop("nodeSelector")
    with pytest.raises(InvalidObject) as caught:
        validate_object(_mlservice(template=template))
    assert caught.value.causes[0].message == (
        'unknown field "nodeSelecter", did you mean "nodeSelector"?'
    )


def test_quantities_are_stored_as_strings_like_kubernetes() -> None:
    out = validate_object(_mlservice(resources={"limits": {"cpu": 1, "memory": "1Gi"}}))
    assert out["spec"]["releases"][0]["predictor"]["resources"]["limits"] == {
        "cpu": "1",
        "memory": "1Gi",
    }


def _secret(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s3", "labels": {"tensorstack.dev/resource": "s3"}},
        **fields,
    }


def test_secret_string_data_is_folded_into_base64_data() -> None:
    cfg = "host_base = 127.0.0.1:9000\naccess_key = user\nsecret_key = pw\nuse_https = False\n"
    out = validate_object(_secret(data={"other": "eA=="}, stringData={".s3cfg": cfg}))
    assert "stringData" not in out
    assert out["type"] == "Opaque"
    assert base64.b64decode(out["data"][".s3cfg"]).decode() == cfg
    assert out["data"]["other"] == "eA=="
    config = parse_as(Secret, out).s3_config()
    assert (config.host_base, config.access_key, config.use_https) == (
        "127.0.0.1:9000",
        "user",
        False,
    )


def test_secret_used_as_s3_without_the_label_fails_at_use() -> None:
    manifest = _secret(stringData={".s3cfg": "host_base = h\n"})
    manifest["metadata"]["labels"] = {}
    secret = parse_as(Secret, manifest)  # valid as a plain Secret
    with pytest.raises(
        InvalidInput, match=r"default/s3 .*lacks the label tensorstack.dev/resource"
    ):
        secret.s3_config()


def test_parse_gives_the_typed_model_of_each_kind() -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "vol"}}
    assert isinstance(parse(pvc), PersistentVolumeClaim)
    assert isinstance(parse(_mlservice()), MLService)
    svc = parse_as(MLService, _mlservice())
    assert svc.release("v1") is not None
    assert svc.ref == "default/demo"
    with pytest.raises(InvalidObject, match="is not SimpleMLService"):
        parse_as(SimpleMLService, _mlservice())


_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(
    releases=st.lists(_names, min_size=1, max_size=4, unique=True),
    min_replicas=st.integers(0, 5),
    extra=st.integers(0, 5),
    percent=st.integers(0, 100),
)
def test_valid_mlservices_validate_to_a_fixed_point(
    releases: list[str], min_replicas: int, extra: int, percent: int
) -> None:
    manifest: dict[str, Any] = {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "svc"},
        "spec": {
            "default": releases[0],
            "releases": [
                {
                    "name": name,
                    "predictor": {
                        "minReplicas": min_replicas,
                        "maxReplicas": min_replicas + extra,
                        "model": {
                            "modelFormat": {"name": "sklearn"},
                            "modelUri": f"pvc://v/{name}",
                        },
                    },
                }
                for name in releases
            ],
        },
    }
    if len(releases) > 1:
        manifest["spec"].update(canary=releases[-1], canaryTrafficPercent=percent)
    once = validate_object(manifest)
    assert validate_object(once) == once
    assert [r["name"] for r in once["spec"]["releases"]] == releases
