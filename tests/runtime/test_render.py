"""render_replica: the reference's runtime and MLService examples rendered end to end."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from mlservice.errors import TemplateError
from mlservice.resources import MLService, MLServiceRuntime, parse_as
from mlservice.runtime import Probe, RenderedReplica, render_replica, render_transformer
from tests.support.paths import EXAMPLES


def _example(path: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / path).read_text())
    return doc


def _render(service: dict[str, Any], runtime: dict[str, Any]) -> RenderedReplica:
    svc = parse_as(MLService, service)
    return render_replica(
        service=svc, release=svc.spec.releases[0], runtime=parse_as(MLServiceRuntime, runtime)
    )


TORCHSERVE = _example("runtimes/torchserve.yaml")
ARGS = ["torchserve", "--start", "--model-store=/var/lib/t9k/model"]


def _reference(predictor: dict[str, Any]) -> dict[str, Any]:
    """The reference's `demo` MLService with one release whose predictor is `predictor`
    (the examples/ copies were made runnable here, so these stay as the reference wrote them)."""
    model = {"modelUri": "pvc://tutorial/mnist/", **predictor.pop("model", {})}
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "demo"},
        "spec": {
            "default": "version1",
            "releases": [{"name": "version1", "predictor": {"model": model, **predictor}}],
        },
    }


def test_parameters_fill_the_runtime_template() -> None:
    service = _reference(
        {"model": {"runtime": "torchserve", "parameters": {"MODEL_PATH": "mnist=model.mar"}}}
    )
    replica = _render(service, TORCHSERVE)
    assert list(replica.container.args) == [*ARGS, "--models mnist=model.mar"]
    assert replica.container.image == "torchserve:latest"
    assert (replica.port, replica.port_declared, replica.component) == (8080, True, "predict")


def test_without_parameters_the_else_branch_renders() -> None:
    replica = _render(_reference({"model": {"runtime": "torchserve"}}), TORCHSERVE)
    assert list(replica.container.args) == [*ARGS, "--models all"]


def test_release_patch_replaces_the_image_and_keeps_the_rest() -> None:
    patch = {
        "spec": {"containers": [{"name": "user-container", "image": "self-torchserve:latest"}]}
    }
    service = _reference({"model": {"modelFormat": {"name": "pytorch"}}, "template": patch})
    replica = _render(service, TORCHSERVE)
    assert replica.container.image == "self-torchserve:latest"
    assert list(replica.container.args) == [*ARGS, "--models all"]
    assert dict(replica.container.resources.limits) == {"cpu": "200m", "memory": "200Mi"}
    assert [p.container_port for p in replica.container.ports] == [8080]


def test_predictor_resources_override_the_runtime_limits() -> None:
    limits = {"cpu": "500m", "memory": "1Gi"}
    service = _reference(
        {"model": {"modelFormat": {"name": "pytorch"}}, "resources": {"limits": limits}}
    )
    replica = _render(service, TORCHSERVE)
    assert dict(replica.container.resources.limits) == limits
    assert replica.pod_spec["containers"][0]["resources"]["limits"]["cpu"] == "500m"


RUNTIME = {
    "apiVersion": "tensorstack.dev/v1beta1",
    "kind": "MLServiceRuntime",
    "metadata": {"name": "python", "namespace": "team"},
    "spec": {
        "template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/target": "10", "a": "runtime"}},
            "spec": {
                "containers": [
                    {
                        "name": "user-container",
                        "command": ["mls", "serve"],
                        "args": [
                            "$(MODEL_DIR)",
                            "--name={{.Name}}",
                            "--port=$(PORT)",
                            "{{if .WORKERS}}--workers={{.WORKERS}}{{else}}--workers=1{{end}}",
                            "--tag=$$(PORT)",
                        ],
                        "env": [
                            {"name": "RELEASE", "value": "{{.Namespace}}/{{.Release}}"},
                            {
                                "name": "TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}},
                            },
                            {"name": "ADDR", "value": "127.0.0.1:$(PORT)"},
                        ],
                        "workingDir": "/work",
                        "volumeMounts": [{"name": "model", "mountPath": "/var/lib/t9k/model"}],
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "readinessProbe": {
                            "httpGet": {"path": "/v2/health/ready", "port": "http"},
                            "periodSeconds": 2,
                        },
                    },
                    {"name": "metrics", "args": ["--listen={{.Name}}"]},
                ],
                "volumes": [{"name": "model", "emptyDir": {}}],
            },
        }
    },
}


def _service(**predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": "iris", "namespace": "team"},
        "spec": {
            "default": "v1",
            "releases": [
                {
                    "name": "v1",
                    "predictor": {
                        "model": {"runtime": "python", "parameters": {"WORKERS": 4}},
                        **predictor,
                    },
                }
            ],
        },
    }


def test_full_render_then_expansion_with_the_engine_env() -> None:
    patch = {
        "metadata": {"annotations": {"a": "release"}},
        "spec": {
            "containers": [
                {"name": "user-container", "env": [{"name": "EXTRA", "value": "1"}]},
                {"name": "proxy", "args": ["{{.Name}}"]},
            ]
        },
    }
    replica = _render(_service(template=patch), RUNTIME)
    main = replica.container
    assert main.args[1:4] == ("--name=iris", "--port=$(PORT)", "--workers=4")
    assert [s.name for s in replica.sidecars] == ["metrics", "proxy"]
    assert replica.sidecars[0].args == ("--listen=iris",)
    assert replica.sidecars[1].args == ("{{.Name}}",)  # a release's patch is literal
    assert replica.annotations == {"autoscaling.knative.dev/target": "10", "a": "release"}
    assert main.working_dir == "/work"
    assert main.volume_mounts[0].mount_path == "/var/lib/t9k/model"
    assert replica.volumes == ({"name": "model", "emptyDir": {}},)
    # The probe's named port is the serving port, which the engine remaps: None says so.
    assert main.readiness_probe == Probe(http_path="/v2/health/ready", port=None, period_seconds=2)

    assert "TOKEN" not in main.environment({})  # an unresolved valueFrom is left out
    # The engine resolves a valueFrom into the var's value; it is then data, never expanded.
    resolved = tuple(
        replace(e, value="secret-$(PORT)") if e.value_from is not None else e for e in main.env
    )
    env = replace(main, env=resolved).environment({"PORT": "23456", "MODEL_DIR": "/tmp/model"})
    assert env["RELEASE"] == "team/v1"
    assert env["ADDR"] == "127.0.0.1:23456"
    assert env["TOKEN"] == "secret-$(PORT)"
    assert env["EXTRA"] == "1"
    assert main.argv(env) == [
        "mls",
        "serve",
        "/tmp/model",
        "--name=iris",
        "--port=23456",
        "--workers=4",
        "--tag=$(PORT)",
    ]


def test_digest_tracks_what_was_rendered() -> None:
    first = _render(_service(), RUNTIME)
    assert _render(_service(), RUNTIME).digest == first.digest
    changed = _render(_service(resources={"limits": {"memory": "1Gi"}}), RUNTIME)
    assert changed.digest != first.digest
    assert dict(changed.container.resources.limits) == {"memory": "1Gi"}


def test_a_malformed_runtime_template_names_the_runtime_and_field() -> None:
    runtime = yaml.safe_load(yaml.safe_dump(RUNTIME))
    runtime["spec"]["template"]["spec"]["containers"][0]["args"][3] = "{{if .WORKERS}}"
    with pytest.raises(TemplateError) as caught:
        _render(_service(), runtime)
    assert caught.value.message.startswith(
        "MLServiceRuntime team/python: spec.template.spec.containers[0].args[3]: template"
    )


def test_transformer_renders_from_its_own_template() -> None:
    service = _service()
    service["spec"]["transformer"] = {
        "resources": {"limits": {"cpu": "1"}},
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "user-container",
                        "command": ["python", "-m", "transformer", "--predictor=$(PREDICTOR_HOST)"],
                        "readinessProbe": {"tcpSocket": {"port": 9000}},
                    }
                ]
            }
        },
    }
    replica = render_transformer(parse_as(MLService, service))
    assert replica.component == "transform"
    assert (replica.port, replica.port_declared) == (8080, False)
    assert dict(replica.container.resources.limits) == {"cpu": "1"}
    assert replica.container.readiness_probe == Probe(port=9000, tcp=True)
    env = replica.container.environment({"PREDICTOR_HOST": "127.0.0.1:8080"})
    assert replica.container.argv(env)[-1] == "--predictor=127.0.0.1:8080"
