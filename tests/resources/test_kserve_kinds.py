"""KServe's kinds: what is accepted (and passes KServe's own CRD schema), how it is stored, and
what is refused, each refusal naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from mlservice.errors import InvalidObject
from mlservice.resources import (
    ClusterServingRuntime,
    InferenceService,
    ServingRuntime,
    parse_as,
    validate_object,
)
from tests.resources.kserve_manifests import Manifest, assert_crd_valid, changed, isvc, runtime

TRANSFORMER = {
    "containers": [
        {
            "name": "kserve-container",
            "image": "kserve/image-transformer:latest",
            "args": ["--model_name", "mnist", "--predictor_host", "mnist-predictor.default"],
            "env": [{"name": "STORAGE_URI", "value": "pvc://models/transformer"}],
        }
    ],
    "minReplicas": 0,
}

VALID: dict[str, Manifest] = {
    "sklearn shortcut": isvc(),
    "shortcut with container overrides": isvc(
        xgboost={
            "storageUri": "s3://models/xgb",
            "protocolVersion": "v2",
            "runtimeVersion": "1.7",
            "args": ["--nthread=1"],
            "env": [{"name": "OMP_NUM_THREADS", "value": "1"}],
            "resources": {"limits": {"cpu": 1, "memory": "1Gi", "nvidia.com/gpu": 1}},
        }
    ),
    "generic model with an explicit runtime": isvc(
        model={
            "modelFormat": {"name": "sklearn", "version": "1"},
            "runtime": "kserve-sklearnserver",
            "protocolVersion": "grpc-v2",
            "storage": {"key": "localMinIO", "path": "sklearn/iris", "parameters": {"a": "b"}},
            "image": "custom:1",
            "command": ["python", "-m", "sklearnserver"],
        }
    ),
    "custom predictor": isvc(
        containers=[
            {
                "name": "kserve-container",
                "image": "kserve/custom-model:v1",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8080}},
            }
        ]
    ),
    "a sidecar beside a model": isvc(
        model={"modelFormat": {"name": "onnx"}, "storageUri": "https://example.com/m.onnx"},
        containers=[{"name": "transformer-container", "image": "t:1"}],
    ),
    "every extension field, and pod fields passed through": isvc(
        minReplicas=0,
        maxReplicas=3,
        scaleTarget=10,
        scaleMetric="rps",
        containerConcurrency=4,
        timeout=60,
        canaryTrafficPercent=10,
        logger={"url": "http://message-dumper.default/", "mode": "request"},
        batcher={"maxBatchSize": 32, "maxLatency": 500, "timeout": 60},
        serviceAccountName="sa",
        annotations={"autoscaling.knative.dev/target": "5"},
        labels={"team": "a"},
        nodeSelector={"gpu": "true"},
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        affinity={"nodeAffinity": {}},
        imagePullSecrets=[{"name": "registry"}],
        volumes=[{"name": "cache", "emptyDir": {}}],
        sklearn={
            "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        },
    ),
    "transformer and explainer": {
        **isvc(),
        "spec": {
            "predictor": {"pytorch": {"storageUri": "pvc://models/mnist"}},
            "transformer": TRANSFORMER,
            "explainer": {"containers": [{"name": "explainer", "image": "alibi:1"}]},
        },
    },
}


@pytest.mark.parametrize("manifest", VALID.values(), ids=VALID.keys())
def test_accepted_manifests_and_what_is_stored_pass_kserves_crd_schema(manifest: Manifest) -> None:
    stored = validate_object(manifest)
    assert stored["metadata"]["namespace"] == "default"
    assert validate_object(stored) == stored  # storing is idempotent: a re-apply is unchanged
    assert_crd_valid(manifest)
    assert_crd_valid(stored)


@pytest.mark.parametrize("name", ["", "kserve-container"])
def test_the_container_name_kserves_sdk_and_webhook_write_is_accepted(name: str) -> None:
    """KServe's SDK serializes `V1beta1SKLearnSpec(...)` with `name: ""`; KServe itself names
    the container kserve-container. Neither is a user's container name to refuse."""
    stored = validate_object(isvc(sklearn={"name": name, "storageUri": "pvc://m/iris"}))
    assert stored["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}


def test_a_shortcut_is_stored_as_model_as_kserve_does() -> None:
    stored = validate_object(VALID["shortcut with container overrides"])["spec"]["predictor"]
    assert "xgboost" not in stored
    assert stored["model"] == {
        "modelFormat": {"name": "xgboost"},
        "storageUri": "s3://models/xgb",
        "protocolVersion": "v2",
        "runtimeVersion": "1.7",
        "args": ["--nthread=1"],
        "env": [{"name": "OMP_NUM_THREADS", "value": "1"}],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}},
    }
    assert "minReplicas" not in stored  # absent stays absent; KServe reads it as 1


@pytest.mark.parametrize(
    ("predictor", "protocol"),
    [
        ({"onnx": {"storageUri": "pvc://m/a"}}, "v2"),
        ({"triton": {"storageUri": "pvc://m/a"}}, "v2"),
        ({"huggingface": {"storageUri": "hf://org/model"}}, "v2"),
        ({"model": {"modelFormat": {"name": "triton"}}}, "v2"),
        ({"onnx": {"storageUri": "pvc://m/a", "protocolVersion": "v1"}}, "v1"),
        ({"sklearn": {"storageUri": "pvc://m/a"}}, None),
        ({"model": {"modelFormat": {"name": "onnx"}}}, None),
    ],
)
def test_protocol_defaults_follow_kserve(predictor: dict[str, Any], protocol: str | None) -> None:
    model = validate_object(isvc(**predictor))["spec"]["predictor"]["model"]
    assert model.get("protocolVersion") == protocol


def test_a_shortcut_replaces_the_stored_model_as_a_kserve_client_patch_expects() -> None:
    stored = validate_object(
        isvc(model={"modelFormat": {"name": "sklearn"}, "runtime": "rt", "storageUri": "pvc://a/"})
    )
    # KServeClient.patch merges the whole object, shortcut included, onto what is stored.
    patched = changed(stored, "spec.predictor.sklearn", {"storageUri": "pvc://b/"})
    patched["spec"]["predictor"]["canaryTrafficPercent"] = 10
    predictor = validate_object(patched)["spec"]["predictor"]
    assert predictor["model"] == {"modelFormat": {"name": "sklearn"}, "storageUri": "pvc://b/"}
    assert predictor["canaryTrafficPercent"] == 10
    assert "sklearn" not in predictor


def test_typed_model_answers_what_a_reconciler_asks() -> None:
    service = parse_as(
        InferenceService, VALID["every extension field, and pod fields passed through"]
    )
    predictor = service.spec.predictor
    assert predictor.replica_bounds == (0, 3)
    assert predictor.frameworks() == ["sklearn"]
    model = predictor.effective_model()
    assert model is not None
    assert (model.model_format.name, model.storage_uri) == (
        "sklearn",
        "gs://kfserving-examples/models/sklearn/1.0/model",
    )
    assert predictor.logger is not None
    assert predictor.logger.url == "http://message-dumper.default/"
    assert predictor.batcher is not None
    assert predictor.batcher.max_latency == 500
    assert predictor.service_account_name == "sa"
    assert not predictor.is_custom
    assert parse_as(InferenceService, isvc()).spec.predictor.replica_bounds == (1, None)
    custom = parse_as(InferenceService, VALID["custom predictor"]).spec.predictor
    assert custom.is_custom
    assert custom.effective_model() is None
    sidecar = parse_as(InferenceService, VALID["a sidecar beside a model"]).spec.predictor
    assert not sidecar.is_custom


def test_tag_routing_annotation_is_read() -> None:
    tagged = isvc()
    tagged["metadata"]["annotations"] = {"serving.kserve.io/enable-tag-routing": "true"}
    assert parse_as(InferenceService, tagged).tag_routing
    assert not parse_as(InferenceService, isvc()).tag_routing


INVALID: list[tuple[str, Manifest, dict[str, str]]] = [
    (
        "misspelt shortcut",
        isvc(sklern={"storageUri": "pvc://m/"}),
        {
            "spec.predictor.sklern": 'did you mean "sklearn"?',
            "spec.predictor": "must set exactly one of sklearn",
        },
    ),
    (
        "misspelt fields inside a shortcut and the extension",
        isvc(minReplica=1, sklearn={"storageURI": "pvc://m/", "protocolVerison": "v1"}),
        {
            "spec.predictor.minReplica": 'did you mean "minReplicas"?',
            "spec.predictor.sklearn.storageURI": 'did you mean "storageUri"?',
            "spec.predictor.sklearn.protocolVerison": 'did you mean "protocolVersion"?',
        },
    ),
    (
        "misspelt logger and batcher fields",
        isvc(
            logger={"urls": ["http://x/"]},
            batcher={"maxBatchsize": 2},
            sklearn={"storageUri": "pvc://m/"},
        ),
        {
            "spec.predictor.logger.urls": 'did you mean "url"?',
            "spec.predictor.batcher.maxBatchsize": 'did you mean "maxBatchSize"?',
        },
    ),
    (
        "two shortcuts",
        isvc(sklearn={}, xgboost={}),
        {"spec.predictor": "found sklearn, xgboost"},
    ),
    ("no implementation", isvc(minReplicas=1), {"spec.predictor": "must set exactly one of"}),
    (
        "a shortcut and a kserve-container",
        isvc(sklearn={}, containers=[{"name": "kserve-container", "image": "x"}]),
        {"spec.predictor": "found sklearn, containers"},
    ),
    (
        "a container name in a standard predictor",
        isvc(sklearn={"name": "my-container"}),
        {"spec.predictor.sklearn.name": "not allowed in a standard predictor"},
    ),
    (
        "a model without a format",
        isvc(model={"runtime": "kserve-sklearnserver"}),
        {"spec.predictor.model.modelFormat": "required"},
    ),
    (
        "bounds and enums",
        isvc(
            minReplicas=-1,
            canaryTrafficPercent=101,
            scaleMetric="latency",
            containerConcurrency=-2,
            batcher={"maxBatchSize": 0},
            logger={"mode": "everything"},
            sklearn={"protocolVersion": "v3"},
        ),
        {
            "spec.predictor.minReplicas": "greater than or equal to 0",
            "spec.predictor.canaryTrafficPercent": "less than or equal to 100",
            "spec.predictor.scaleMetric": "'cpu', 'memory', 'concurrency' or 'rps'",
            "spec.predictor.containerConcurrency": "greater than or equal to 0",
            "spec.predictor.batcher.maxBatchSize": "greater than or equal to 1",
            "spec.predictor.logger.mode": "'all', 'request' or 'response'",
            "spec.predictor.sklearn.protocolVersion": "'grpc-v1' or 'grpc-v2'",
        },
    ),
    (
        "strict types, as Kubernetes",
        isvc(minReplicas="1", sklearn={"storageUri": 3}),
        {
            "spec.predictor.minReplicas": "valid integer",
            "spec.predictor.sklearn.storageUri": "valid string",
        },
    ),
    (
        "max below min",
        isvc(minReplicas=3, maxReplicas=2, sklearn={}),
        {"spec.predictor.maxReplicas": "below minReplicas 3"},
    ),
    (
        "an HPA metric",
        isvc(scaleMetric="cpu", sklearn={}),
        {"spec.predictor.scaleMetric": "needs an HPA autoscaler"},
    ),
    (
        "a storage URI nobody reads, and one that climbs out",
        isvc(sklearn={"storageUri": "ftp://host/m", "storage": {"path": "a/../../b"}}),
        {
            "spec.predictor.sklearn.storageUri": "must start with one of pvc://",
            "spec.predictor.sklearn.storage.path": 'must not contain ".."',
        },
    ),
    (
        "a logger URL that is not http",
        isvc(logger={"url": "kafka://x"}, sklearn={}),
        {"spec.predictor.logger.url": "not an http:// or https:// URL"},
    ),
    (
        "an autoscaling annotation typo",
        isvc(annotations={"autoscaling.knative.dev/taget": "5"}, sklearn={}),
        {
            "spec.predictor.annotations[autoscaling.knative.dev/taget]": (
                'did you mean "autoscaling.knative.dev/target"?'
            )
        },
    ),
    (
        "duplicate container names",
        isvc(containers=[{"name": "a"}, {"name": "a"}]),
        {"spec.predictor.containers[1].name": 'container name "a" is used more than once'},
    ),
    (
        "a transformer without containers",
        {**isvc(), "spec": {"predictor": {"sklearn": {}}, "transformer": {"minReplicas": 1}}},
        {"spec.transformer.containers": "must list at least one container"},
    ),
    (
        "spec.canary",
        {**isvc(), "spec": {"predictor": {"sklearn": {}}, "canary": []}},
        {"spec.canary": "canaryTrafficPercent"},
    ),
    ("a name starting with a digit", isvc("1-iris"), {"metadata.name": "start with a letter"}),
    (
        "a name too long for its hosts",
        isvc("a" * 54),  # {name}-predictor: 64 characters
        {"metadata.name": "at most 63 are allowed"},
    ),
]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [(m, e) for _, m, e in INVALID],
    ids=[name for name, _, _ in INVALID],
)
def test_invalid_inference_services_name_each_field(
    manifest: Manifest, expected: dict[str, str]
) -> None:
    with pytest.raises(InvalidObject) as err:
        validate_object(manifest)
    found = {c.field: c.message for c in err.value.causes}
    assert set(found) == set(expected), found
    for field, fragment in expected.items():
        assert fragment in found[field], (field, found[field])
    assert err.value.message.startswith(
        f'InferenceService "default/{manifest["metadata"]["name"]}"'
    )


def test_tag_routing_makes_the_longest_host_longer() -> None:
    name = "a" * 44  # latest-{name}-predictor is 61 characters
    tagged = isvc(name)
    tagged["metadata"]["annotations"] = {"serving.kserve.io/enable-tag-routing": "true"}
    validate_object(tagged)
    with pytest.raises(InvalidObject, match=r"latest-a+-predictor"):
        validate_object(changed(tagged, "metadata.name", name + "aaa"))


# --- serving runtimes -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ServingRuntime", "ClusterServingRuntime"])
def test_kserves_runtime_yaml_is_accepted_templates_and_all(kind: str) -> None:
    manifest = runtime(kind)
    stored = validate_object(manifest)
    assert stored["spec"]["containers"][0]["args"][0] == "--model_name={{.Name}}"
    assert stored["spec"] == {**manifest["spec"], "containers": stored["spec"]["containers"]}
    assert_crd_valid(manifest)
    assert_crd_valid(stored)
    if kind == "ClusterServingRuntime":
        assert "namespace" not in stored["metadata"]
    else:
        assert stored["metadata"]["namespace"] == "default"


def test_runtime_pod_fields_and_modelmesh_fields_are_kept() -> None:
    manifest = runtime("ServingRuntime")
    manifest["spec"].update(
        multiModel=False,
        disabled=True,
        grpcEndpoint="port:8085",
        grpcDataEndpoint="port:8001",
        httpDataEndpoint="port:8002",
        replicas=2,
        storageHelper={"disabled": True},
        builtInAdapter={"serverType": "mlserver", "runtimeManagementPort": 8001},
        nodeSelector={"a": "b"},
        tolerations=[{"key": "k", "operator": "Exists"}],
        volumes=[{"name": "devshm", "emptyDir": {"medium": "Memory"}}],
        imagePullSecrets=[{"name": "registry"}],
        labels={"x": "y"},
    )
    stored = validate_object(manifest)
    assert stored["spec"]["builtInAdapter"] == {
        "serverType": "mlserver",
        "runtimeManagementPort": 8001,
    }
    assert_crd_valid(stored)
    spec = parse_as(ServingRuntime, stored).spec
    assert spec.is_disabled
    assert not spec.is_multi_model
    assert spec.storage_helper is not None
    assert spec.storage_helper.disabled


def test_typed_runtime_answers_what_selection_asks() -> None:
    manifest = runtime()
    manifest["spec"]["containers"].insert(0, {"name": "agent", "image": "a"})
    manifest["spec"]["supportedModelFormats"].append({"name": "xgboost"})
    spec = parse_as(ClusterServingRuntime, manifest).spec
    assert spec.server_container.name == "kserve-container"
    assert [f.selectable for f in spec.supported_model_formats or []] == [True, False]
    assert spec.supports_protocol("v2")
    assert spec.supports_protocol(None)
    assert not spec.supports_protocol("grpc-v2")
    no_list = changed(manifest, "spec.protocolVersions", None)
    assert parse_as(ClusterServingRuntime, no_list).spec.supports_protocol("grpc-v2")
    lone = changed(manifest, "spec.containers", [{"name": "server", "image": "s"}])
    assert parse_as(ClusterServingRuntime, lone).spec.server_container.name == "server"
    assert parse_as(ClusterServingRuntime, manifest).ref == "kserve-sklearnserver"


RUNTIME_INVALID: list[tuple[str, Manifest, dict[str, str]]] = [
    (
        "the pre-0.7 field name",
        changed(runtime(), "spec.supportedModelTypes", [{"name": "sklearn"}]),
        {"spec.supportedModelTypes": 'did you mean "supportedModelFormats"?'},
    ),
    (
        "no containers",
        changed(runtime(), "spec.containers", []),
        {"spec.containers": "at least 1 item"},
    ),
    (
        "priority below 1 and an unknown protocol",
        changed(
            changed(runtime(), "spec.supportedModelFormats[0].priority", 0),
            "spec.protocolVersions",
            ["v1", "openai"],
        ),
        {
            "spec.supportedModelFormats[0].priority": "greater than or equal to 1",
            "spec.protocolVersions[1]": "'v1', 'v2', 'grpc-v1' or 'grpc-v2'",
        },
    ),
    (
        "one format, two priorities",
        changed(
            runtime(),
            "spec.supportedModelFormats",
            [
                {"name": "sklearn", "autoSelect": True, "priority": 1},
                {"name": "sklearn", "version": "2", "autoSelect": True, "priority": 2},
            ],
        ),
        {"spec.supportedModelFormats[1].priority": "already has priority 1"},
    ),
    (
        "a namespace on a cluster-scoped runtime",
        changed(runtime(), "metadata.namespace", "team-a"),
        {"metadata.namespace": "cluster-scoped"},
    ),
    (
        "a misspelt container field",
        changed(runtime(), "spec.containers[0].arg", ["x"]),
        {"spec.containers[0].arg": 'did you mean "args"?'},
    ),
]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [(m, e) for _, m, e in RUNTIME_INVALID],
    ids=[name for name, _, _ in RUNTIME_INVALID],
)
def test_invalid_runtimes_name_each_field(manifest: Manifest, expected: dict[str, str]) -> None:
    with pytest.raises(InvalidObject) as err:
        validate_object(manifest)
    found = {c.field: c.message for c in err.value.causes}
    assert set(found) == set(expected), found
    for field, fragment in expected.items():
        assert fragment in found[field], (field, found[field])
    # A cluster-scoped object is named without a namespace.
    assert err.value.message.startswith('ClusterServingRuntime "kserve-sklearnserver" is invalid')


def test_priorities_without_auto_select_do_not_conflict() -> None:
    manifest = changed(
        runtime(),
        "spec.supportedModelFormats",
        [
            {"name": "sklearn", "priority": 1},
            {"name": "sklearn", "autoSelect": True, "priority": 2},
        ],
    )
    validate_object(manifest)
