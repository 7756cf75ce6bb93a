"""KServe runtime containers, as users copy them from KServe's YAMLs, made runnable locally."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mlservice.errors import LaunchError, RuntimeUnavailable, TemplateError
from mlservice.runtime.kserve_container import (
    MODEL_MOUNT_PATH,
    engine_ports,
    image_repository,
    image_stand_in,
    local_container,
)

# The runtime YAMLs below have the shapes of kserve/kserve's config/runtimes/*.yaml, images as a
# release's kustomization resolves them (or left as the repository's placeholders).
SKLEARN = """
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata:
  name: kserve-sklearnserver
spec:
  supportedModelFormats:
    - {name: sklearn, version: "1", autoSelect: true, priority: 1}
  protocolVersions: [v1, v2]
  containers:
    - name: kserve-container
      image: kserve/sklearnserver:v0.15.0
      args:
        - --model_name={{.Name}}
        - --model_dir=/mnt/models
        - --http_port=8080
      resources:
        requests: {cpu: "1", memory: 2Gi}
        limits: {cpu: "1", memory: 2Gi}
"""
XGBOOST = """
kind: ClusterServingRuntime
metadata: {name: kserve-xgbserver}
spec:
  containers:
    - name: kserve-container
      image: docker.io/kserve/xgbserver:v0.14.1
      args:
        - --model_name={{.Name}}
        - --model_dir=/mnt/models
        - --http_port=8080
        - --nthread=1
"""
LIGHTGBM = """
kind: ClusterServingRuntime
metadata: {name: kserve-lgbserver}
spec:
  containers:
    - name: kserve-container
      image: kserve-lgbserver:replace
      args:
        - --model_name={{.Name}}
        - --model_dir=/mnt/models
        - --http_port=8080
        - --nthread=1
"""
PMML = """
kind: ClusterServingRuntime
metadata: {name: kserve-pmmlserver}
spec:
  containers:
    - name: kserve-container
      image: kserve/pmmlserver:v0.15.0
      args:
        - --model_name={{.Name}}
        - --model_dir=/mnt/models
        - --http_port=8080
"""
TRITON = """
kind: ClusterServingRuntime
metadata: {name: kserve-tritonserver}
spec:
  containers:
    - name: kserve-container
      image: nvcr.io/nvidia/tritonserver:23.05-py3
      args:
        - tritonserver
        - --model-store=/mnt/models
        - --grpc-port=9000
        - --http-port=8080
        - --allow-grpc=true
        - --allow-http=true
"""
MLSERVER = """
kind: ClusterServingRuntime
metadata: {name: kserve-mlserver}
spec:
  containers:
    - name: kserve-container
      image: docker.io/seldonio/mlserver:1.3.2
      env:
        - {name: MLSERVER_MODEL_IMPLEMENTATION, value: "{{.Labels.modelClass}}"}
        - {name: MLSERVER_HTTP_PORT, value: "8080"}
        - {name: MODELS_DIR, value: /mnt/models}
"""
PREDICTIVE = """
kind: ClusterServingRuntime
metadata: {name: kserve-predictiveserver}
spec:
  containers:
    - name: kserve-container
      image: kserve/predictiveserver:latest
      args:
        - --model_name={{.Name}}
        - --framework={{.Annotations.modelFormat}}
"""
TORCHSERVE = """
kind: ClusterServingRuntime
metadata: {name: kserve-torchserve}
spec:
  containers:
    - name: kserve-container
      image: pytorch/torchserve-kfs:0.9.0
      args:
        - torchserve
        - --start
        - --model-store=/mnt/models/model-store
        - --ts-config=/mnt/models/config/config.properties
"""
CUSTOM = """
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata: {name: custom-server, namespace: team}
spec:
  containers:
    - name: kserve-container
      image: registry.example.com/team/server:1.2
      command: [python, -m, team_server]
      args:
        - --model_name={{.Name}}
        - --namespace={{.Namespace}}
        - --http_port
        - "8080"
        - --grpc_port=8081
        - --app={{index .Labels "app.kubernetes.io/name"}}
      workingDir: /srv/{{.Name}}
"""

ISVC_META = {
    "name": "iris",
    "namespace": "team",
    "labels": {"modelClass": "mlserver_sklearn.SKLearnModel", "app.kubernetes.io/name": "demo"},
    "annotations": {"modelFormat": "sklearn"},
}


def adapt(source: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest = yaml.safe_load(source)
    where = f"{manifest['kind']} {manifest['metadata']['name']}"
    return local_container(
        manifest["spec"]["containers"][0], metadata=metadata or ISVC_META, where=where
    )


@pytest.mark.parametrize(
    ("source", "fmt"), [(SKLEARN, "sklearn"), (XGBOOST, "xgboost"), (LIGHTGBM, "lightgbm")]
)
def test_kserve_server_images_run_mls_serve_with_their_flags(source: str, fmt: str) -> None:
    container = adapt(source)
    assert container["command"] == ["mls", "serve", "--format", fmt]
    assert container["args"][:3] == [
        "--model_name=iris",
        f"--model_dir={MODEL_MOUNT_PATH}",  # kept: the engine maps the mount path
        "--http_port=$(PORT)",  # the replica's own port, not a fixed 8080
    ]
    assert container["name"] == "kserve-container"
    assert container["image"] == yaml.safe_load(source)["spec"]["containers"][0]["image"]


def test_everything_else_in_the_container_is_kept() -> None:
    container = adapt(SKLEARN)
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }


def test_a_mapped_server_without_a_port_flag_gets_the_engines_port() -> None:
    manifest = yaml.safe_load(SKLEARN)
    manifest["spec"]["containers"][0]["args"] = [
        "--model_name={{.Name}}",
        "--model_dir=/mnt/models",
    ]
    container = local_container(manifest["spec"]["containers"][0], metadata=ISVC_META, where="x")
    assert container["args"][-1] == "--http_port=$(PORT)"


def test_an_image_with_no_local_equivalent_is_named() -> None:
    with pytest.raises(RuntimeUnavailable) as caught:
        adapt(PMML)
    assert caught.value.message.startswith(
        "ClusterServingRuntime kserve-pmmlserver: image kserve/pmmlserver:v0.15.0 serves PMML"
    )


def test_an_unknown_image_with_only_flags_cannot_launch() -> None:
    with pytest.raises(LaunchError, match=r"kserve-predictiveserver: image kserve/predictive"):
        adapt(PREDICTIVE)
    with pytest.raises(LaunchError, match=r"image docker.io/seldonio/mlserver:1.3.2 has no local"):
        adapt(MLSERVER)


def test_an_image_swapped_into_a_known_runtime_is_served_as_the_runtime_serves() -> None:
    runtime = "pytorch/torchserve-kfs:0.12.0"
    cuda = "docker.io/yurkoff/torchserve-cuda-11.3-kfs:0.5.3-gpu"
    flags = ["--model_name={{.Name}}", "--http_port=8080"]
    swapped = {"name": "kserve-container", "image": cuda, "args": flags}
    assert image_stand_in(swapped, runtime_image=runtime) == runtime
    container = local_container(swapped, metadata=ISVC_META, where="x", serve_as=runtime)
    assert container["image"] == cuda  # kept as written: only the program is the runtime's
    assert container["command"] == ["mls", "serve", "--format", "torchserve"]
    assert container["args"] == ["--model_name=iris", "--http_port=$(PORT)"]
    # Its own program, an image that says what it serves, or a runtime without a local
    # program: each runs (or fails) as written.
    assert image_stand_in({**swapped, "command": ["serve"]}, runtime_image=runtime) is None
    assert image_stand_in({**swapped, "args": ["torchserve"]}, runtime_image=runtime) is None
    pmml = {**swapped, "image": "kserve/pmmlserver:v0.15.0"}
    assert image_stand_in(pmml, runtime_image=runtime) is None
    assert image_stand_in(swapped, runtime_image="seldonio/mlserver:1.3.2") is None
    assert image_stand_in({**swapped, "image": runtime}, runtime_image=runtime) is None


@pytest.mark.parametrize("source", [TRITON, TORCHSERVE])
def test_a_first_argument_that_names_a_program_is_left_to_the_engine(source: str) -> None:
    container = adapt(source)
    original = yaml.safe_load(source)["spec"]["containers"][0]["args"]
    assert "command" not in container
    assert container["args"][0] == original[0]
    assert len(container["args"]) == len(original)  # no KServe port flag added to others


def test_triton_spelled_port_flags_point_at_the_engines_ports() -> None:
    args = adapt(TRITON)["args"]
    assert "--http-port=$(PORT)" in args
    assert "--grpc-port=$(GRPC_PORT)" in args
    assert "--model-store=/mnt/models" in args


def test_an_explicit_command_is_kept_and_placeholders_render_everywhere() -> None:
    container = adapt(CUSTOM)
    assert container["command"] == ["python", "-m", "team_server"]
    assert container["args"] == [
        "--model_name=iris",
        "--namespace=team",
        "--http_port",
        "$(PORT)",
        "--grpc_port=$(GRPC_PORT)",
        "--app=demo",
    ]
    assert container["workingDir"] == "/srv/iris"


def test_labels_and_annotations_render_and_a_missing_label_is_empty() -> None:
    manifest = yaml.safe_load(MLSERVER)
    container = manifest["spec"]["containers"][0] | {"command": ["mlserver", "start", "."]}
    env = local_container(container, metadata=ISVC_META, where="x")["env"]
    assert env[0]["value"] == "mlserver_sklearn.SKLearnModel"
    bare = local_container(container, metadata={"name": "iris"}, where="x")["env"]
    assert bare[0]["value"] == ""


def test_a_field_objectmeta_lacks_fails_as_in_go() -> None:
    manifest = yaml.safe_load(SKLEARN)
    manifest["spec"]["containers"][0]["args"][0] = "--model_name={{.name}}"
    with pytest.raises(TemplateError) as caught:
        local_container(manifest["spec"]["containers"][0], metadata=ISVC_META, where="SR x")
    assert "SR x: failed to replace placeholders in container kserve-container" in str(caught.value)
    assert "can't evaluate field name" in str(caught.value)


def test_a_malformed_placeholder_names_the_runtime_and_container() -> None:
    manifest = yaml.safe_load(SKLEARN)
    manifest["spec"]["containers"][0]["args"][0] = "--model_name={{.Name"
    with pytest.raises(TemplateError, match=r"^ClusterServingRuntime kserve-sklearnserver: fail"):
        local_container(
            manifest["spec"]["containers"][0],
            metadata=ISVC_META,
            where="ClusterServingRuntime kserve-sklearnserver",
        )


def test_the_input_container_is_not_changed() -> None:
    manifest = yaml.safe_load(SKLEARN)
    before = yaml.safe_load(SKLEARN)
    local_container(manifest["spec"]["containers"][0], metadata=ISVC_META, where="x")
    assert manifest == before


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("kserve/sklearnserver", "kserve/sklearnserver"),
        ("kserve/sklearnserver:v0.15.0", "kserve/sklearnserver"),
        ("docker.io/kserve/xgbserver:latest", "kserve/xgbserver"),
        ("localhost:5000/kserve/lgbserver@sha256:0123abcd", "kserve/lgbserver"),
        ("kserve-sklearnserver:replace", "kserve/sklearnserver"),
        ("docker.io/library/python:3.11", "python"),
        ("nvcr.io/nvidia/tritonserver:23.05-py3", "nvidia/tritonserver"),
        ("registry.example.com:443/team/server:1.2", "team/server"),
    ],
)
def test_image_repository_drops_registry_tag_and_digest(image: str, repository: str) -> None:
    assert image_repository(image) == repository


@pytest.mark.parametrize(
    ("args", "rewritten"),
    [
        (["--http_port=8080"], ["--http_port=$(PORT)"]),
        (["--http_port", "8080"], ["--http_port", "$(PORT)"]),
        (["--grpc_port=8081", "--workers=2"], ["--grpc_port=$(GRPC_PORT)", "--workers=2"]),
        (["--http_port=$(MY_PORT)"], ["--http_port=$(MY_PORT)"]),  # not a literal: left alone
        (["--port=9000", "--rest_api_port=8080"], ["--port=9000", "--rest_api_port=8080"]),
        (["--http_port"], ["--http_port"]),
    ],
)
def test_engine_ports_rewrites_literal_port_flags_only(
    args: list[str], rewritten: list[str]
) -> None:
    assert engine_ports(args) == rewritten
