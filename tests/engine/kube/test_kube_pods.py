"""What the rendered pods hold: the storage-initializer, the agent, credentials by reference,
the scheduler, the routes of both modes, and the errors that name their field."""

from __future__ import annotations

from typing import Any

import pytest

from mlservice.controller.offline import render, render_object
from mlservice.engine.kube import RenderOptions, knative_features
from mlservice.errors import NotRenderable
from tests.engine.kube.kube_helpers import EXAMPLES, documents

Obj = dict[str, Any]


def example(relative: str, mode: str = "knative", **kwargs: Any) -> list[Obj]:
    return render(documents(EXAMPLES / relative), mode=mode, **kwargs)  # type: ignore[arg-type]


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, [(o["kind"], o["metadata"]["name"]) for o in objects]
    return found[0]


def pod_of(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def container(pod: Obj, name: str) -> Obj:
    return next(c for c in pod["containers"] if c["name"] == name)


def test_a_model_is_fetched_by_the_storage_initializer_into_the_runtimes_path() -> None:
    config = one(example("mlservice/torch-mnist.yaml"), "Configuration")
    pod = pod_of(config)
    (init,) = pod["initContainers"]
    assert init["name"] == "storage-initializer"
    uri = "pvc://tutorial/tutorial-examples/deployment/pvc/mlservice-torch/"
    assert init["args"] == ["storage-init", uri, "/mnt/models"]
    assert init["image"] == "mlservice:latest"
    assert {"name": "mls-pvc-tutorial", "mountPath": "/mnt/pvc", "readOnly": True} in (
        init["volumeMounts"]
    )
    user = container(pod, "user-container")
    mount = {"name": "mls-model", "mountPath": "/var/lib/t9k/model", "readOnly": True}
    assert mount in user["volumeMounts"]
    assert {"name": "MODEL_DIR", "value": "/var/lib/t9k/model"} in user["env"]
    assert {"name": "mls-model", "emptyDir": {}} in pod["volumes"]


def test_s3_credentials_are_mounted_from_the_secret_never_copied() -> None:
    pod = pod_of(one(example("mlservice/s3-storage.yaml"), "Configuration"))
    (init,) = pod["initContainers"]
    assert init["args"] == ["storage-init", "s3://models/example/", "/mnt/models"]
    volume = next(v for v in pod["volumes"] if "secret" in v)
    assert volume["secret"] == {
        "secretName": "s3-security",
        "items": [{"key": ".s3cfg", "path": ".s3cfg"}],
    }
    assert {"name": "MLS_S3CFG", "value": "/etc/mlservice/s3/.s3cfg"} in init["env"]


def test_ports_are_fixed_on_a_cluster() -> None:
    pod = pod_of(one(example("mlservice/autoscaling.yaml"), "Configuration"))
    user = container(pod, "user-container")
    assert user["args"][-4:] == ["--port", "8080", "--grpc-port", "8081"]
    assert user["ports"] == [{"containerPort": 8080}]
    assert not any(var["name"] == "PORT" for var in user["env"])  # Knative reserves it


def test_a_logger_puts_the_agent_in_front_of_the_server() -> None:
    pod = pod_of(one(example("mlservice/logger.yaml"), "Configuration"))
    agent = container(pod, "agent")
    assert agent["args"] == [
        "agent",
        "--upstream",
        "127.0.0.1:8080",
        "--port",
        "9081",
        "--logger-url",
        "http://127.0.0.1:8000/events",
        "--logger-mode",
        "all",
    ]
    assert agent["ports"] == [{"containerPort": 9081}]
    assert "ports" not in container(pod, "user-container")  # the agent serves the pod
    env = {var["name"]: var["value"] for var in agent["env"]}
    assert env["MLS_SERVICE"] == "torch-mnist-logger"
    assert env["MLS_RELEASE"] == "origin"


def test_a_kserve_batcher_and_logger_go_to_the_agent() -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": "team"},
        "spec": {
            "predictor": {
                "minReplicas": 2,
                "maxReplicas": 4,
                "batcher": {"maxBatchSize": 32, "maxLatency": 50},
                "logger": {"url": "http://sink.test/", "mode": "request"},
                "sklearn": {"storageUri": "pvc://data/iris"},
            }
        },
    }
    objects = render_object(isvc, options=RenderOptions())
    config = one(objects, "Configuration", "iris-predictor")
    server = container(pod_of(config), "kserve-container")
    assert not [a for a in server["args"] if "batch" in a]  # KServe's server takes no such flag
    agent = container(pod_of(config), "agent")
    assert agent["args"][5:] == [
        "--kind",
        "kserve",
        "--logger-url",
        "http://sink.test/",
        "--logger-mode",
        "request",
        "--max-batch-size",
        "32",
        "--max-latency",
        "50",
    ]
    annotations = config["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "2"
    assert annotations["autoscaling.knative.dev/max-scale"] == "4"
    labels = config["spec"]["template"]["metadata"]["labels"]
    assert labels["serving.kserve.io/inferenceservice"] == "iris"
    assert labels["component"] == "predictor"
    route = one(objects, "Route", "iris")
    assert route["spec"]["traffic"] == [
        {"configurationName": "iris-predictor", "latestRevision": True, "percent": 100}
    ]
    assert all(o["metadata"]["namespace"] == "team" for o in objects)


def test_a_kserve_storage_key_is_read_from_storage_config_by_reference() -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris"},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "storage": {"key": "localminio", "path": "sklearn/iris"},
                }
            }
        },
    }
    with pytest.raises(NotRenderable, match=r"storage\.parameters\.bucket or a storageUri"):
        render([isvc])
    storage = isvc["spec"]["predictor"]["model"]["storage"]
    storage["parameters"] = {"bucket": "models"}
    pod = pod_of(one(render([isvc]), "Configuration"))
    (init,) = pod["initContainers"]
    assert init["args"] == ["storage-init", "s3://models/sklearn/iris", "/mnt/models"]
    env = {var["name"]: var for var in init["env"]}
    assert env["STORAGE_CONFIG"]["valueFrom"] == {
        "secretKeyRef": {"name": "storage-config", "key": "localminio"}
    }
    override = '{"bucket": "models", "path": "sklearn/iris"}'
    assert env["STORAGE_OVERRIDE_CONFIG"]["value"] == override


def test_canary_traffic_is_a_route_with_a_tag_per_release() -> None:
    objects = example("mlservice/canary.yaml")
    route = one(objects, "Route", "multi-releases-canary")
    assert route["spec"]["traffic"] == [
        {
            "configurationName": f"multi-releases-canary-predict-{release}",
            "latestRevision": True,
            "percent": percent,
            "tag": release,
        }
        for release, percent in (("nov-02", 0), ("nov-05", 80), ("nov-11", 20))
    ]


def test_standard_mode_splits_by_weight_and_gives_each_release_a_host() -> None:
    objects = example("mlservice/canary.yaml", mode="standard", domain="ml.test")
    split = one(objects, "HTTPRoute", "multi-releases-canary")
    assert split["spec"]["hostnames"] == [
        "multi-releases-canary.default.ml.test",
        "multi-releases-canary-predictor.default.ml.test",
    ]
    weights = [(b["name"], b["weight"]) for b in split["spec"]["rules"][0]["backendRefs"]]
    assert weights == [
        ("multi-releases-canary-predict-nov-02", 0),
        ("multi-releases-canary-predict-nov-05", 80),
        ("multi-releases-canary-predict-nov-11", 20),
    ]
    own = one(objects, "HTTPRoute", "multi-releases-canary-predict-nov-11")
    assert own["spec"]["hostnames"] == ["multi-releases-canary-predict-nov-11.default.ml.test"]
    assert [o["kind"] for o in objects].count("Deployment") == 3


def test_standard_mode_autoscales_on_the_metric_the_annotations_name() -> None:
    objects = example("mlservice/autoscaling.yaml", mode="standard")
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["maxReplicas"] == 3
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "mlservice_rps"},
                "target": {"type": "AverageValue", "averageValue": "100"},
            },
        }
    ]


def test_standard_mode_refuses_scale_to_zero_naming_the_field() -> None:
    (service,) = documents(EXAMPLES / "mlservice" / "transformer.yaml")
    service["spec"]["transformer"]["minReplicas"] = 0
    with pytest.raises(NotRenderable, match=r"spec\.transformer\.minReplicas is 0"):
        render([service], mode="standard")
    assert render([service], mode="knative")


def test_a_transformer_owns_the_service_host_and_forwards_to_the_predictors() -> None:
    objects = example("mlservice/transformer.yaml", domain="ml.test")
    service = one(objects, "Service", "digits-transformer")
    assert service["apiVersion"] == "serving.knative.dev/v1"
    user = container(pod_of(service), "user-container")
    env = {var["name"]: var.get("value") for var in user["env"]}
    assert env["PREDICTOR_HOST"] == "digits-transformer-predictor.default.ml.test"
    assert one(objects, "Route", "digits-transformer-predictor")


def test_the_t9k_scheduler_queue() -> None:
    config = one(example("mlservice/scheduler.yaml"), "Configuration")
    assert pod_of(config)["schedulerName"] == "t9k-scheduler"
    labels = config["spec"]["template"]["metadata"]["labels"]
    assert labels["scheduler.tensorstack.dev/queue"] == "default"


def test_a_simplemlservice_mounts_its_claim_and_keeps_its_replicas() -> None:
    for mode in ("knative", "standard"):
        objects = example("simplemlservice/pvc-storage.yaml", mode=mode)
        assert [o["kind"] for o in objects] == ["Deployment", "Service"]
        deployment = objects[0]
        pod = pod_of(deployment)
        assert "initContainers" not in pod
        assert pod["volumes"] == [
            {"name": "mls-model", "persistentVolumeClaim": {"claimName": "demo"}}
        ]
        mount = container(pod, "user-container")["volumeMounts"][0]
        assert mount["subPath"] == "path/mnist"
        assert mount["mountPath"] == "/var/lib/custom"


def test_knative_features_name_what_stock_knative_refuses() -> None:
    assert knative_features(example("mlservice/transformer.yaml")) == [
        "kubernetes.podspec-init-containers",
        "kubernetes.podspec-persistent-volume-claim",
        "kubernetes.podspec-persistent-volume-write",  # the transformer's own claim mount
    ]
    assert knative_features(example("mlservice/scheduler.yaml")) == [
        "kubernetes.podspec-init-containers",
        "kubernetes.podspec-persistent-volume-claim",
        "kubernetes.podspec-schedulername",
    ]
    assert knative_features(example("mlservice/canary.yaml", mode="standard")) == []


def test_the_image_option_names_every_mlservice_container() -> None:
    pod = pod_of(one(example("mlservice/logger.yaml", image="reg.test/mls:1"), "Configuration"))
    images = {c["name"]: c["image"] for c in [*pod["containers"], *pod["initContainers"]]}
    assert images == {
        "user-container": "reg.test/mls:1",
        "agent": "reg.test/mls:1",
        "storage-initializer": "reg.test/mls:1",
    }


def test_render_object_gives_one_parents_children_only() -> None:
    (service,) = documents(EXAMPLES / "mlservice" / "canary.yaml")
    children = render_object(service, options=RenderOptions(mode="standard"))
    assert {o["metadata"]["labels"]["serving.mlservice.dev/service"] for o in children} == {
        "multi-releases-canary"
    }
    assert all(o["metadata"]["labels"]["app.kubernetes.io/managed-by"] for o in children)


def test_kserve_server_images_run_their_own_entrypoint() -> None:
    """Locally `kserve/sklearnserver` is stood in for by `mls serve --format sklearn`; on a
    cluster the image runs as KServe runs it. The runtime naming mlservice's server image
    (`kserve-onnxserver`) runs the image rendered with."""
    objects = example("kserve/sklearn-iris-pvc.yaml", image="reg.test/mls:3")
    server = container(pod_of(one(objects, "Configuration")), "kserve-container")
    assert server["image"] == "kserve/sklearnserver:latest"
    assert "command" not in server
    assert "--model_dir=/mnt/models" in server["args"]
    assert "--http_port=8080" in server["args"]
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "digits"},
        "spec": {"predictor": {"onnx": {"storageUri": "pvc://data/onnx"}}},
    }
    onnx = render([isvc], image="reg.test/mls:3")
    server = container(pod_of(one(onnx, "Configuration")), "kserve-container")
    assert server["image"] == "reg.test/mls:3"
    assert server["command"] == ["mls", "serve"]
