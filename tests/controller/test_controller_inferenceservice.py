"""The InferenceService reconciler over a FakeEngine: runtime selection, the rendered pod, the
model source, routes and KServe's status."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mlservice.engine import RevisionId
from mlservice.store import Key
from tests.controller.controller_helpers import Manifest, World
from tests.support.paths import REPO

pytestmark = pytest.mark.anyio
KIND = "InferenceService"


def isvc(name: str = "iris", **predictor: Any) -> Manifest:
    implementations = {"model", "containers", "sklearn", "pytorch", "tensorflow"}
    if not implementations & set(predictor):
        predictor["sklearn"] = {"storageUri": "pvc://models/iris"}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": KIND,
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"predictor": predictor},
    }


def condition(world: World, type_: str, name: str = "iris") -> dict[str, Any]:
    return world.condition(name, type_, kind=KIND)


async def test_sklearn_selects_the_builtin_runtime_and_serves_under_its_name(world: World) -> None:
    world.apply(isvc(minReplicas=1, maxReplicas=3, scaleTarget=5, scaleMetric="rps"))
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predictor-00001")]
    server = spec.user_container
    assert server.name == "kserve-container"
    assert server.command == ("mls", "serve", "--format", "sklearn")
    assert server.args == ("--model_name=iris", "--model_dir=/mnt/models", "--http_port=$(PORT)")
    assert spec.model is not None
    assert (spec.model.uri, spec.model.mount_path) == ("pvc://models/iris", "/mnt/models")
    assert spec.annotations["autoscaling.knative.dev/target"] == "5"
    assert spec.annotations["autoscaling.knative.dev/metric"] == "rps"
    assert world.local("iris-predictor-00001").model_dir == world.home.volume("models") / "iris"
    assert condition(world, "Ready")["status"] == "False"
    status = world.status("iris", KIND)
    assert status["modelStatus"]["transitionStatus"] == "InProgress"

    world.mark_ready("iris-predictor-00001")
    await world.settle()
    status = world.status("iris", KIND)
    assert status["url"] == "http://iris.ns.example.test:8080"
    assert status["address"] == {"url": "http://iris.ns.example.test:8080"}
    assert status["observedGeneration"] == 1
    predictor = status["components"]["predictor"]
    assert predictor["url"] == "http://iris-predictor.ns.example.test:8080"
    assert predictor["latestCreatedRevision"] == "iris-predictor-00001"
    assert predictor["latestReadyRevision"] == "iris-predictor-00001"
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00001"
    assert "previousRolledoutRevision" not in predictor
    assert predictor["traffic"] == [
        {"revisionName": "iris-predictor-00001", "percent": 100, "latestRevision": True}
    ]
    assert status["modelStatus"] == {
        "transitionStatus": "UpToDate",
        "modelRevisionStates": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
    }
    types = [(c["type"], c["status"]) for c in status["conditions"]]
    assert types == [
        ("IngressReady", "True"),
        ("PredictorReady", "True"),
        ("Ready", "True"),
    ]
    assert all("lastTransitionTime" in c for c in status["conditions"])
    snapshot = world.sink.last
    assert snapshot is not None
    assert set(snapshot.routes) == {"iris.ns.example.test", "iris-predictor.ns.example.test"}
    route = snapshot.routes["iris.ns.example.test"]
    assert [b.revision for b in route.backends] == ["ns/iris-predictor-00001"]
    assert snapshot.revisions["ns/iris-predictor-00001"].endpoints


async def test_model_args_env_and_resources_merge_onto_the_runtime(world: World) -> None:
    model = {
        "modelFormat": {"name": "sklearn"},
        "storageUri": "pvc://models/iris",
        "args": ["--workers=2"],
        "env": [{"name": "A", "value": "1"}],
        "resources": {"limits": {"memory": "1Gi"}},
    }
    batcher = {"maxBatchSize": 32, "maxLatency": 50}
    world.apply(isvc(model=model, containerConcurrency=4, timeout=7, batcher=batcher))
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predictor-00001")]
    server = spec.user_container
    assert server.args[-3:] == (
        "--workers=2",
        "--max-batch-size=32",
        "--max-batch-delay-ms=50",
    )
    assert server.args[0] == "--model_name=iris"
    assert [(e.name, e.value) for e in server.env] == [("A", "1")]
    container = spec.pod_spec["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    assert world.sink.last is not None
    revision = world.sink.last.revisions["ns/iris-predictor-00001"]
    assert (revision.container_concurrency, revision.timeout_seconds) == (4, 7.0)


async def test_pytorch_serves_a_torchserve_store_natively(world: World) -> None:
    world.apply(isvc(pytorch={"storageUri": "pvc://models/iris", "protocolVersion": "v1"}))
    await world.settle()
    server = world.engine.specs[RevisionId("ns/iris-predictor-00001")].user_container
    assert server.command == ("mls", "serve", "--format", "torchserve")
    assert server.args == ("--model_name=iris", "--model_dir=/mnt/models", "--http_port=$(PORT)")
    status = world.status("iris", KIND)
    assert status["modelStatus"]["transitionStatus"] != "InvalidSpec"


async def test_the_real_torchserve_is_named(world: World) -> None:
    model = {
        "modelFormat": {"name": "pytorch"},
        "runtime": "kserve-torchserve-java",
        "storageUri": "pvc://models/iris",
    }
    world.apply(isvc(model=model))
    await world.settle()
    server = world.engine.specs[RevisionId("ns/iris-predictor-00001")].user_container
    assert server.command == ("python", "-m", "mlservice.runtime.builtin.torchserve")
    assert server.args == ("--model_name=iris", "--model_dir=/mnt/models", "--http_port=$(PORT)")


async def test_the_real_torchserve_without_java_is_runtime_unavailable(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime's `requires` annotation reaches the revision, as an MLService's does: the
    replica is never started (it would exit 127)."""
    monkeypatch.setenv("PATH", "/nonexistent")  # this interpreter's folder is still searched
    model = {
        "modelFormat": {"name": "pytorch"},
        "runtime": "kserve-torchserve-java",
        "storageUri": "pvc://models/iris",
    }
    world.apply(isvc(model=model))
    await world.settle()
    ready = condition(world, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RuntimeUnavailable")
    assert "'java'" in ready["message"]
    assert world.engine.specs == {}


async def test_an_image_override_is_served_as_its_runtime_serves_with_a_warning(
    world: World,
) -> None:
    """The reference's `pytorch.image` (a CUDA build of TorchServe-KFS): locally the runtime's
    program serves the store, the image stays as written and a Warning names it."""
    image = "docker.io/yurkoff/torchserve-cuda-11.3-kfs:0.5.3-gpu"
    pytorch = {"storageUri": "pvc://models/iris", "protocolVersion": "v1", "image": image}
    world.apply(isvc(pytorch=pytorch))
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predictor-00001")]
    server = spec.user_container
    assert server.image == image
    assert server.command == ("mls", "serve", "--format", "torchserve")
    assert server.args == ("--model_name=iris", "--model_dir=/mnt/models", "--http_port=$(PORT)")
    warnings = [e for e in world.events() if e[0] == "ImageNotRun"]
    assert len(warnings) == 1
    assert image in warnings[0][1]
    assert "pytorch/torchserve-kfs:0.12.0" in warnings[0][1]
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    assert condition(world, "Ready")["status"] == "True"
    assert [e for e in world.events() if e[0] == "ImageNotRun"] == warnings  # once per spec


async def test_the_reference_nllb_manifest_is_served_natively_with_a_warning(
    world: World,
) -> None:
    manifest = yaml.safe_load((REPO / "examples" / "kserve" / "torchserve-nllb.yaml").read_text())
    manifest["metadata"]["namespace"] = "ns"
    (world.home.volume("torchserve-claim") / "nllb-200-1dot3b").mkdir(parents=True)
    world.apply(manifest)
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/nllb-200-1dot3b-predictor-00001")]
    assert spec.user_container.command == ("mls", "serve", "--format", "torchserve")
    assert spec.user_container.image == manifest["spec"]["predictor"]["pytorch"]["image"]
    assert any(e[0] == "ImageNotRun" and "yurkoff" in e[1] for e in world.events())


async def test_an_override_with_its_own_command_or_a_known_image_runs_as_written(
    world: World,
) -> None:
    custom = {"storageUri": "pvc://models/iris", "image": "me/server:1", "command": ["python"]}
    world.apply(isvc(pytorch=custom))
    known = {"storageUri": "pvc://models/iris", "image": "kserve/pmmlserver:v0.15.0"}
    world.apply(isvc("pmml", pytorch=known))
    await world.settle()
    server = world.engine.specs[RevisionId("ns/iris-predictor-00001")].user_container
    assert (server.image, server.command) == ("me/server:1", ("python",))
    ready = condition(world, "Ready", name="pmml")
    assert (ready["status"], ready["reason"]) == ("False", "RuntimeUnavailable")
    assert "PMML" in ready["message"]
    assert not [e for e in world.events() if e[0] == "ImageNotRun"]


async def test_tensorflow_has_no_supporting_runtime(world: World) -> None:
    world.apply(isvc(tensorflow={"storageUri": "pvc://models/iris"}))
    await world.settle()
    assert world.engine.specs == {}
    ready = condition(world, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NoSupportingRuntime")
    assert "tensorflow" in ready["message"]
    assert condition(world, "PredictorReady")["reason"] == "NoSupportingRuntime"
    model_status = world.status("iris", KIND)["modelStatus"]
    assert model_status["transitionStatus"] == "InvalidSpec"
    assert model_status["lastFailureInfo"] == {
        "reason": "NoSupportingRuntime",
        "message": "No runtime found to support specified framework/version",
    }
    assert ("NoSupportingRuntime", ready["message"]) in world.events()


async def test_a_namespace_runtime_wins_and_a_cluster_runtime_change_reconciles(
    world: World,
) -> None:
    world.apply(isvc())
    await world.settle()
    assert RevisionId("ns/iris-predictor-00001") in world.engine.specs
    cluster = world.get("ClusterServingRuntime", "kserve-sklearnserver")
    cluster["spec"]["disabled"] = True
    world.store.replace(cluster)
    await world.settle()
    assert condition(world, "PredictorReady")["reason"] == "NoSupportingRuntime"

    runtime = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": "my-sklearn", "namespace": "ns"},
        "spec": {
            "supportedModelFormats": [{"name": "sklearn", "autoSelect": True}],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": "kserve/sklearnserver:v0.15.0",
                    "args": ["--model_name={{.Name}}-x", "--model_dir=/mnt/models"],
                }
            ],
        },
    }
    world.apply(runtime)
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predictor-00002")]
    assert spec.user_container.args[0] == "--model_name=iris-x"
    assert spec.user_container.args[-1] == "--http_port=$(PORT)"


@pytest.mark.parametrize("uri", ["gs://bucket/iris", "hf://org/model", "oci://reg/img"])
async def test_a_storage_scheme_we_cannot_fetch_is_a_clear_failure(world: World, uri: str) -> None:
    world.apply(isvc(sklearn={"storageUri": uri}))
    await world.settle()
    assert world.engine.specs == {}
    ready = condition(world, "Ready")
    scheme = uri.split("://")[0]
    assert ready["status"] == "False"
    assert ready["reason"] == "UnsupportedStorageUri"
    assert f"{scheme}://" in ready["message"]
    assert world.status("iris", KIND)["modelStatus"]["transitionStatus"] == "InvalidSpec"


async def test_a_missing_volume_is_a_download_failure(world: World) -> None:
    world.apply(isvc(sklearn={"storageUri": "pvc://nowhere/iris"}))
    await world.settle()
    ready = condition(world, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ModelDownloadFailed")
    model_status = world.status("iris", KIND)["modelStatus"]
    assert model_status["transitionStatus"] == "BlockedByFailedLoad"
    assert model_status["lastFailureInfo"]["reason"] == "ModelLoadFailed"


async def test_storage_credentials_are_named_and_a_service_account_change_reconciles(
    world: World,
) -> None:
    world.apply(isvc(serviceAccountName="models", sklearn={"storageUri": "s3://b/iris"}))
    await world.settle()
    ready = condition(world, "Ready")
    assert ready["reason"] == "ModelDownloadFailed"
    assert "ServiceAccount ns/models (the predictor's serviceAccountName)" in ready["message"]
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "models", "namespace": "ns"},
        "secrets": [{"name": "s3creds"}],
    }
    world.apply(account)
    await world.settle()
    message = condition(world, "Ready")["message"]
    assert "Secret ns/s3creds (listed by ServiceAccount ns/models) does not exist" in message

    keyed = {"modelFormat": {"name": "sklearn"}, "storage": {"key": "minio", "path": "iris"}}
    world.apply(isvc("keyed", model=keyed))
    await world.settle()
    ready = condition(world, "Ready", name="keyed")
    assert ready["reason"] == "ModelDownloadFailed"
    assert "Secret ns/storage-config (for storage.key 'minio') does not exist" in ready["message"]


async def test_custom_predictor_runs_as_given_and_explainer_is_reported(world: World) -> None:
    manifest = isvc(
        containers=[
            {"name": "sidecar", "image": "x", "command": ["sleep", "100"]},
            {"name": "kserve-container", "image": "y", "command": ["python", "-m", "srv"]},
        ]
    )
    manifest["spec"]["explainer"] = {"alibi": {"type": "AnchorTabular"}}
    world.apply(manifest)
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predictor-00001")]
    assert [c.name for c in spec.containers] == ["kserve-container", "sidecar"]
    assert spec.user_container.command == ("python", "-m", "srv")
    assert spec.model is None
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    explainer = condition(world, "ExplainerReady")
    assert (explainer["status"], explainer["reason"]) == ("False", "NotSupported")
    assert condition(world, "Ready")["status"] == "True"


async def test_a_new_spec_rolls_out_and_records_the_previous_revision(world: World) -> None:
    world.apply(isvc())
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    world.apply(isvc(sklearn={"storageUri": "pvc://models/iris2"}))
    await world.settle()
    predictor = world.status("iris", KIND)["components"]["predictor"]
    assert predictor["latestCreatedRevision"] == "iris-predictor-00002"
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00001"
    assert predictor["traffic"][0]["latestRevision"] is False
    world.mark_ready("iris-predictor-00002")
    await world.settle()
    predictor = world.status("iris", KIND)["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00002"
    assert predictor["previousRolledoutRevision"] == "iris-predictor-00001"
    assert world.status("iris", KIND)["observedGeneration"] == 2


async def test_delete_stops_revisions_and_routes(world: World) -> None:
    world.apply(isvc())
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    world.store.delete(Key("serving.kserve.io", KIND, "ns", "iris"))
    await world.settle()
    assert world.stopped("iris-predictor-00001")
    assert world.sink.last is not None
    assert "iris.ns.example.test" not in world.sink.last.routes


async def test_a_transformer_fronts_the_service_and_forwards_to_the_predictor(
    world: World,
) -> None:
    manifest = isvc()
    manifest["spec"]["transformer"] = {
        "containers": [
            {
                "name": "kserve-container",
                "image": "my/transformer",
                "command": ["python", "-m", "transformer"],
            }
        ]
    }
    world.apply(manifest)
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-transformer-00001")]
    assert spec.component == "transform"
    assert spec.predictor_host == "iris-predictor.ns.example.test"
    # KServe's flags added when absent; the predictor is the gateway (PREDICTOR_HOST).
    assert spec.user_container.args == (
        "--model_name",
        "iris",
        "--predictor_host",
        "$(PREDICTOR_HOST)",
        "--http_port=$(PORT)",
    )
    assert condition(world, "TransformerReady")["status"] == "False"
    world.mark_ready("iris-predictor-00001")
    world.mark_ready("iris-transformer-00001")
    await world.settle()
    status = world.status("iris", KIND)
    types = [(c["type"], c["status"]) for c in status["conditions"]]
    assert types == [
        ("IngressReady", "True"),
        ("PredictorReady", "True"),
        ("Ready", "True"),
        ("TransformerReady", "True"),
    ]
    transformer = status["components"]["transformer"]
    assert transformer["url"] == "http://iris-transformer.ns.example.test:8080"
    assert transformer["latestReadyRevision"] == "iris-transformer-00001"
    snapshot = world.sink.last
    assert snapshot is not None
    chain = ["ns/iris-transformer-00001"]
    assert [b.revision for b in snapshot.routes["iris.ns.example.test"].backends] == chain
    assert [b.revision for b in snapshot.routes["iris-transformer.ns.example.test"].backends] == (
        chain
    )
    predictor = snapshot.routes["iris-predictor.ns.example.test"].backends
    assert [b.revision for b in predictor] == ["ns/iris-predictor-00001"]

    world.apply(isvc())  # the transformer removed: its revision stops, the service host moves
    await world.settle()
    assert world.stopped("iris-transformer-00001")
    status = world.status("iris", KIND)
    assert "transformer" not in status["components"]
    assert "iris-transformer.ns.example.test" not in world.sink.last.routes


def split_of(world: World, host: str) -> dict[str, int]:
    assert world.sink.last is not None
    return {b.revision: b.percent for b in world.sink.last.routes[host].backends}


async def test_canary_splits_then_rolls_back_then_promotes(world: World) -> None:
    manifest = isvc()
    manifest["metadata"]["annotations"] = {"serving.kserve.io/enable-tag-routing": "true"}
    world.apply(manifest)
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    await world.settle()

    changed = isvc(sklearn={"storageUri": "pvc://models/iris2"}, canaryTrafficPercent=10)
    changed["metadata"]["annotations"] = manifest["metadata"]["annotations"]
    world.apply(changed)
    await world.settle()
    world.mark_ready("iris-predictor-00002")
    await world.settle()
    assert not world.stopped("iris-predictor-00001")
    predictor = world.status("iris", KIND)["components"]["predictor"]
    assert predictor["latestCreatedRevision"] == "iris-predictor-00002"
    assert predictor["latestReadyRevision"] == "iris-predictor-00002"
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00001"
    assert predictor["traffic"] == [
        {
            "tag": "latest",
            "revisionName": "iris-predictor-00002",
            "percent": 10,
            "latestRevision": True,
        },
        {
            "tag": "prev",
            "revisionName": "iris-predictor-00001",
            "percent": 90,
            "latestRevision": False,
        },
    ]
    assert condition(world, "Ready")["status"] == "True"
    assert world.status("iris", KIND)["modelStatus"]["transitionStatus"] == "UpToDate"
    both = {"ns/iris-predictor-00001": 90, "ns/iris-predictor-00002": 10}
    assert split_of(world, "iris.ns.example.test") == both
    assert split_of(world, "iris-predictor.ns.example.test") == both
    assert split_of(world, "latest-iris-predictor.ns.example.test") == {
        "ns/iris-predictor-00002": 100
    }
    assert split_of(world, "prev-iris-predictor.ns.example.test") == {
        "ns/iris-predictor-00001": 100
    }

    changed["spec"]["predictor"]["canaryTrafficPercent"] = 30  # traffic only: no new revision
    world.apply(changed)
    await world.settle()
    assert RevisionId("ns/iris-predictor-00003") not in world.engine.specs
    assert split_of(world, "iris.ns.example.test") == {
        "ns/iris-predictor-00001": 70,
        "ns/iris-predictor-00002": 30,
    }

    changed["spec"]["predictor"]["canaryTrafficPercent"] = 0  # roll back
    world.apply(changed)
    await world.settle()
    assert split_of(world, "iris.ns.example.test") == {"ns/iris-predictor-00001": 100}
    traffic = world.status("iris", KIND)["components"]["predictor"]["traffic"]
    assert [(t["revisionName"], t["percent"]) for t in traffic] == [
        ("iris-predictor-00002", 0),
        ("iris-predictor-00001", 100),
    ]

    del changed["spec"]["predictor"]["canaryTrafficPercent"]  # promote
    world.apply(changed)
    await world.settle()
    await world.settle()
    assert world.stopped("iris-predictor-00001")
    predictor = world.status("iris", KIND)["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00002"
    assert predictor["previousRolledoutRevision"] == "iris-predictor-00001"
    assert predictor["traffic"] == [
        {"revisionName": "iris-predictor-00002", "percent": 100, "latestRevision": True}
    ]
    assert split_of(world, "iris.ns.example.test") == {"ns/iris-predictor-00002": 100}
    assert world.sink.last is not None
    assert "latest-iris-predictor.ns.example.test" not in world.sink.last.routes


async def test_a_first_revision_with_a_canary_percent_takes_all_traffic(world: World) -> None:
    world.apply(isvc(canaryTrafficPercent=10))
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    await world.settle()
    predictor = world.status("iris", KIND)["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-predictor-00001"
    assert split_of(world, "iris.ns.example.test") == {"ns/iris-predictor-00001": 100}


async def test_a_new_controller_continues_the_recorded_revision(world: World) -> None:
    world.apply(isvc())
    await world.settle()
    world.mark_ready("iris-predictor-00001")
    world.apply(isvc(sklearn={"storageUri": "pvc://models/iris2"}))
    await world.settle()
    world.mark_ready("iris-predictor-00002")
    await world.settle()
    async with world.restarted() as engine:
        await world.settle()
        assert list(engine.specs) == [RevisionId("ns/iris-predictor-00002")]  # same name
