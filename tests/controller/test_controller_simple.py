"""The SimpleMLService reconciler over a FakeEngine and a real in-memory store."""

from __future__ import annotations

from typing import Any

import pytest

from mlservice.engine import RevisionId
from tests.controller.controller_helpers import World

pytestmark = pytest.mark.anyio


def simple(name: str = "files", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "SimpleMLService",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
    }


CUSTOM = {
    "spec": {
        "containers": [
            {"name": "user-container", "command": ["python", "-m", "http.server", "$(PORT)"]}
        ]
    }
}


async def test_custom_runs_its_replicas_with_the_model_in_place(world: World) -> None:
    pvc = {"name": "models", "subPath": "iris", "containerPath": "/custom/path"}
    world.apply(simple(replicas=2, storage={"pvc": pvc}, custom=CUSTOM))
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/files-simple-00001")]
    assert spec.model is not None
    assert spec.model.mount_path == "/custom/path"
    assert spec.model.uri == "pvc://models/iris"
    local = world.local("files-simple-00001")
    assert local.model_dir == world.home.volume("models") / "iris"
    assert local.mounts["/custom/path"] == local.model_dir
    assert spec.user_container.command == ("python", "-m", "http.server", "$(PORT)")
    assert world.ensured("files-simple-00001") == 2
    downloaded = world.condition("files", "ModelDownloaded", kind="SimpleMLService")
    assert (downloaded["status"], downloaded["reason"]) == ("True", "ModelReady")
    assert world.condition("files", kind="SimpleMLService")["status"] == "False"

    world.mark_ready("files-simple-00001")
    await world.settle()
    status = world.status("files", kind="SimpleMLService")
    assert status["address"] == {
        "dns": "files.ns.svc.example.test",
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    assert (status["readyReplicas"], status["replicas"], status["ready"]) == (2, 2, True)
    assert len(status["endpoints"]) == 2
    ready = world.condition("files", kind="SimpleMLService")
    assert (ready["status"], ready["reason"]) == ("True", "MinimumReplicasAvailable")
    assert world.sink.last is not None
    route = world.sink.last.routes["files.ns.svc.example.test"]
    assert (route.kind, [b.percent for b in route.backends]) == ("simple", [100])


async def test_a_container_without_port_listens_on_the_service_port(world: World) -> None:
    custom = {
        "spec": {"containers": [{"name": "user-container", "command": ["python", "serve.py"]}]}
    }
    world.apply(simple(custom=custom, service={"ports": [{"name": "http", "port": 7070}]}))
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/files-simple-00001")]
    assert [p.container_port for p in spec.user_container.ports] == [7070]
    assert (
        world.condition("files", "ModelDownloaded", kind="SimpleMLService")["reason"] == "NoStorage"
    )


@pytest.mark.parametrize(
    ("framework", "program", "annotations"),
    [
        ("tensorflow", "tensorflow_model_server", {}),
        ("pytorch", "java", {"serving.mlservice.dev/torchserve": "java"}),
    ],
)
async def test_framework_servers_need_their_programs(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
    program: str,
    annotations: dict[str, str],
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # this interpreter's folder is still searched
    manifest = simple(**{framework: {}})
    manifest["metadata"]["annotations"] = annotations
    world.apply(manifest)
    await world.settle()
    ready = world.condition("files", kind="SimpleMLService")
    assert (ready["status"], ready["reason"]) == ("False", "RuntimeUnavailable")
    assert repr(program) in ready["message"]
    assert world.engine.specs == {}


async def test_a_service_that_cannot_run_does_not_claim_to_be_downloading(world: World) -> None:
    pvc = {"name": "models", "containerPath": "/var/lib/t9k/model"}
    world.apply(simple(storage={"pvc": pvc}, tensorflow={}))
    await world.settle()
    downloaded = world.condition("files", "ModelDownloaded", kind="SimpleMLService")
    assert (downloaded["status"], downloaded["reason"]) == ("False", "NotStarted")
    assert downloaded["message"].endswith("it cannot: RuntimeUnavailable.")


async def test_a_download_failure_is_model_downloaded_false(world: World) -> None:
    s3 = {"secretName": "nope", "uri": "s3://bucket/model/"}
    world.apply(simple(storage={"s3": s3}, custom=CUSTOM))
    await world.settle()
    downloaded = world.condition("files", "ModelDownloaded", kind="SimpleMLService")
    assert (downloaded["status"], downloaded["reason"]) == ("False", "ModelDownloadFailed")
    assert downloaded["message"] == "Secret ns/nope does not exist."


@pytest.mark.parametrize(
    ("models_flag", "target", "name"),
    [
        (None, "/var/lib/t9k/model", "files"),
        ("all", "/var/lib/t9k/model", "files"),
        ("resnet-18=resnet-18.mar", "/var/lib/t9k/model/resnet-18.mar", "resnet-18"),
        ("a=a.mar,b=b.mar", "/var/lib/t9k/model", "files"),
    ],
)
async def test_pytorch_serves_the_torchserve_store_natively(
    world: World, models_flag: str | None, target: str, name: str
) -> None:
    pvc = {"name": "models", "subPath": "iris", "containerPath": "/var/lib/t9k/model"}
    pytorch = {"modelsFlag": models_flag} if models_flag else {}
    world.apply(simple(storage={"pvc": pvc}, pytorch=pytorch))
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/files-simple-00001")]
    server = spec.user_container
    assert server.command == ("mls", "serve")
    assert server.args == (
        target, "--name", name, "--format", "torchserve",
        "--port", "$(PORT)", "--grpc-port", "$(GRPC_PORT)",
    )  # fmt: skip


async def test_pytorch_runs_the_real_torchserve_when_asked(world: World) -> None:
    pvc = {"name": "models", "subPath": "iris", "containerPath": "/var/lib/t9k/model"}
    manifest = simple(storage={"pvc": pvc}, pytorch={"modelsFlag": "mnist=mnist.mar"})
    manifest["metadata"]["annotations"] = {"serving.mlservice.dev/torchserve": "java"}
    world.apply(manifest)
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/files-simple-00001")]
    assert spec.requires == ("torchserve", "java")
    server = spec.user_container
    assert server.command == ("python", "-m", "mlservice.runtime.builtin.torchserve")
    assert server.args == (
        "--port", "$(PORT)", "--grpc-port", "$(GRPC_PORT)", "--model-store",
        "/var/lib/t9k/model", "--models", "mnist=mnist.mar", "--name", "files",
    )  # fmt: skip
