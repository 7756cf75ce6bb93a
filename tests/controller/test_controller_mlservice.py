"""The MLService reconciler over a FakeEngine and a real in-memory store."""

from __future__ import annotations

import asyncio

import pytest

from mlservice.controller import ControllerConfig, Controllers, MemorySink
from mlservice.controller.builtin import install_builtin_runtimes
from mlservice.engine import Revision, RevisionId
from mlservice.engine.fake import FakeEngine
from mlservice.engine.local.resolve import LocalRevision
from mlservice.home import Home
from mlservice.resources import validate_object
from mlservice.store import Key
from mlservice.store.sqlite import SqliteStore
from tests.controller.controller_helpers import World, mlservice

pytestmark = pytest.mark.anyio


async def test_a_release_gets_a_revision_that_becomes_ready(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predict-v1-00001")]
    server = spec.user_container
    assert server.command == ("mls", "serve")
    assert server.args[:3] == ("$(MODEL_DIR)", "--name", "iris")  # $(VAR) left for the engine
    assert spec.model is not None
    assert spec.model.uri == "pvc://models/iris/"
    local = world.engine.prepared[spec.id]
    assert isinstance(local, LocalRevision)
    assert local.model_dir == world.home.volume("models") / "iris"
    assert world.ensured("iris-predict-v1-00001") == 1
    assert world.condition()["reason"] == "Deploying"
    assert world.status()["ready"] is False

    world.mark_ready("iris-predict-v1-00001")
    await world.settle()
    status = world.status()
    assert status["ready"] is True
    assert status["address"] == {"url": "http://iris.ns.example.test:8080"}
    assert status["observedGeneration"] == 1
    (release,) = status["releases"]
    assert {k: release[k] for k in ("name", "ready", "readyReplicas", "totalReplicas")} == {
        "name": "v1",
        "ready": True,
        "readyReplicas": 1,
        "totalReplicas": 1,
    }
    assert release["trafficPercent"] == 100
    assert release["url"] == "http://iris-predict-v1.ns.example.test:8080"
    (endpoint,) = release["endpoints"]
    assert endpoint["http"].startswith("127.0.0.1:")
    assert world.events() == [
        ("RevisionCreated", "Created revision iris-predict-v1-00001."),
        ("RevisionReady", "Revision iris-predict-v1-00001 is ready (1 ready)."),
    ]


async def test_routes_follow_readiness(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    assert world.sink.last is not None
    before = world.sink.last.revisions["ns/iris-predict-v1-00001"]
    assert before.endpoints == ()  # starting: the activator holds requests meanwhile
    world.mark_ready("iris-predict-v1-00001")
    await world.settle()
    snapshot = world.sink.last
    (endpoint,) = snapshot.revisions["ns/iris-predict-v1-00001"].endpoints
    assert endpoint.address.startswith("127.0.0.1:")
    assert set(snapshot.routes) == {
        "iris.ns.example.test",
        "iris-predictor.ns.example.test",
        "iris-predict-v1.ns.example.test",
    }
    assert snapshot.version > 1


async def test_a_new_model_uri_rolls_without_a_gap(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    world.mark_ready("iris-predict-v1-00001")
    await world.settle()

    world.apply(mlservice(uri="pvc://models/iris2/"))
    await world.settle()
    assert world.ensured("iris-predict-v1-00002") == 1  # at the old revision's scale
    assert not world.stopped("iris-predict-v1-00001")
    release = world.status()["releases"][0]
    assert (release["ready"], release["readyReplicas"], release["totalReplicas"]) == (True, 1, 2)
    assert release["readyRevision"] == "iris-predict-v1-00001"
    assert world.sink.last is not None
    (backend,) = world.sink.last.routes["iris.ns.example.test"].backends
    assert backend.revision == "ns/iris-predict-v1-00001"  # still the old one

    world.mark_ready("iris-predict-v1-00002")
    await world.settle()
    assert world.stopped("iris-predict-v1-00001")
    assert world.status()["releases"][0]["readyRevision"] == "iris-predict-v1-00002"
    reasons = [r for r, _ in world.events()]
    assert reasons[-4:] == [
        "RevisionCreated",
        "RevisionReady",
        "RevisionStopped",
        "RolloutComplete",
    ]
    (backend,) = world.sink.last.routes["iris.ns.example.test"].backends
    assert backend.revision == "ns/iris-predict-v1-00002"


async def test_the_old_revision_stops_only_after_the_gateway_was_told(world: World) -> None:
    routed_at_stop: list[str] = []
    stop = world.engine.stop

    async def stop_and_note(revision_id: RevisionId) -> None:
        assert world.sink.last is not None
        (backend,) = world.sink.last.routes["iris.ns.example.test"].backends
        routed_at_stop.append(backend.revision)
        await stop(revision_id)

    world.engine.stop = stop_and_note  # type: ignore[method-assign]
    world.apply(mlservice())
    await world.settle()
    world.mark_ready("iris-predict-v1-00001")
    await world.settle()
    world.apply(mlservice(uri="pvc://models/iris2/"))
    await world.settle()
    world.mark_ready("iris-predict-v1-00002")
    await world.settle()
    assert world.stopped("iris-predict-v1-00001")
    assert routed_at_stop == ["ns/iris-predict-v1-00002"]


async def test_an_unchanged_spec_makes_no_new_revision(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    world.apply(
        {**mlservice(), "metadata": {"name": "iris", "namespace": "ns", "labels": {"a": "b"}}}
    )
    world.controllers.queue.add(Key("tensorstack.dev", "MLService", "ns", "iris"))
    await world.settle()
    assert list(world.engine.specs) == [RevisionId("ns/iris-predict-v1-00001")]


async def test_a_runtime_change_rolls_the_services_using_it(world: World) -> None:
    runtime = {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLServiceRuntime",
        "metadata": {"name": "mine", "namespace": "ns"},
        "spec": {
            "supportedModelFormats": [{"name": "custom"}],
            "template": {
                "spec": {"containers": [{"name": "user-container", "command": ["false"]}]}
            },
        },
    }
    world.apply(runtime)
    svc = mlservice()
    svc["spec"]["releases"][0]["predictor"]["model"] = {
        "runtime": "mine",
        "modelUri": "pvc://models/iris/",
    }
    world.apply(svc)
    await world.settle()
    assert world.engine.specs[RevisionId("ns/iris-predict-v1-00001")].user_container.command == (
        "false",
    )
    runtime["spec"]["template"]["spec"]["containers"][0]["command"] = ["true"]
    world.apply(runtime)
    await world.settle()
    fixed = world.engine.specs[RevisionId("ns/iris-predict-v1-00002")]
    assert fixed.user_container.command == ("true",)
    assert world.stopped("iris-predict-v1-00001")  # never ready: replaced at once


async def test_paused_scales_to_zero_and_back(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    world.mark_ready("iris-predict-v1-00001")
    await world.settle()
    world.apply(mlservice(paused=True))
    await world.settle()
    assert world.ensured("iris-predict-v1-00001") == 0
    assert world.condition(type_="Paused")["status"] == "True"
    assert (world.condition()["status"], world.condition()["reason"]) == ("False", "Paused")
    assert world.sink.last is not None
    assert world.sink.last.routes["iris.ns.example.test"].paused is True
    world.apply(mlservice(paused=False))
    await world.settle()
    assert world.ensured("iris-predict-v1-00001") == 1
    assert world.condition(type_="Paused")["status"] == "False"


async def test_crash_loop_reason_and_log_tail_reach_status(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    (replica,) = await world.engine.replicas(RevisionId("ns/iris-predict-v1-00001"))
    world.engine.crash(
        replica.id,
        message="container user-container exited with code 3; restarting in 0.5s. "
        "Last log lines:\nboom",
    )
    await world.settle()
    ready = world.condition()
    assert (ready["status"], ready["reason"]) == ("False", "CrashLoopBackOff")
    assert "boom" in ready["message"]
    assert "boom" in world.status()["releases"][0]["message"]
    assert (
        "CrashLoopBackOff",
        f"{replica.id}: container user-container exited with code 3",
    ) in world.events()


async def test_a_missing_volume_is_a_download_failure_that_heals(world: World) -> None:
    world.apply(mlservice(uri="pvc://later/iris/"))
    await world.settle()
    ready = world.condition()
    assert ready["reason"] == "ModelDownloadFailed"
    assert "later" in ready["message"]
    assert world.engine.specs == {}
    log = world.home.replicas / "ns" / "iris-predict-v1-00001" / "storage-initializer.log"
    assert "error:" in log.read_text()

    from mlservice.storage import create_volume

    create_volume(world.home, "later")
    (world.home.volume("later") / "iris").mkdir()
    world.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "later", "namespace": "ns"},
        }
    )
    await world.settle()
    assert world.ensured("iris-predict-v1-00001") == 1
    assert world.condition()["reason"] == "Deploying"


async def test_an_s3_secret_that_is_missing_is_named(world: World) -> None:
    svc = mlservice(uri="s3://models/iris/")
    svc["spec"]["releases"][0]["predictor"]["storage"] = {"s3Storage": {"secretName": "creds"}}
    world.apply(svc)
    await world.settle()
    ready = world.condition()
    assert ready["reason"] == "ModelDownloadFailed"
    assert ready["message"] == "Release v1: Secret ns/creds does not exist."


async def test_a_missing_runtime_program_is_runtime_unavailable(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # this interpreter's folder is still searched
    svc = mlservice()
    svc["spec"]["releases"][0]["predictor"]["model"]["runtime"] = "torchserve-java"
    svc["spec"]["releases"][0]["predictor"]["model"].pop("modelFormat")
    world.apply(svc)
    await world.settle()
    ready = world.condition()
    assert ready["reason"] == "RuntimeUnavailable"
    assert "'java'" in ready["message"]
    assert world.engine.specs == {}


async def test_transformer_and_canary(world: World) -> None:
    svc = mlservice(canary="v2", canaryTrafficPercent=20)
    second = {
        "name": "v2",
        "predictor": {
            "model": {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://models/iris2/"}
        },
    }
    svc["spec"]["releases"].append(second)
    svc["spec"]["transformer"] = {
        "template": {
            "spec": {"containers": [{"name": "user-container", "command": ["mls", "serve", "t"]}]}
        }
    }
    world.apply(svc)
    await world.settle()
    transformer = world.engine.specs[RevisionId("ns/iris-transform-00001")]
    assert transformer.predictor_host == "iris-predictor.ns.example.test"
    local = world.engine.prepared[transformer.id]
    assert isinstance(local, LocalRevision)
    assert local.variables["PREDICTOR_HOST"] == "127.0.0.1:8080"
    assert local.variables["PREDICTOR_HOST_HEADER"] == "iris-predictor.ns.example.test"
    for revision in ("iris-predict-v1-00001", "iris-predict-v2-00001", "iris-transform-00001"):
        world.mark_ready(revision)
    await world.settle()
    status = world.status()
    assert status["ready"] is True
    assert status["canaryRelease"] == "v2"
    assert [(r["name"], r["trafficPercent"]) for r in status["releases"]] == [
        ("v1", 80),
        ("v2", 20),
    ]
    assert status["transformer"]["url"] == "http://iris-transformer.ns.example.test:8080"
    assert world.sink.last is not None
    routes = world.sink.last.routes
    assert [b.revision for b in routes["iris.ns.example.test"].backends] == [
        "ns/iris-transform-00001"
    ]
    split = routes["iris-predictor.ns.example.test"].backends
    assert [(b.release, b.percent) for b in split] == [("v1", 80), ("v2", 20)]


async def test_deletion_stops_replicas_and_forgets_events_and_routes(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    world.store.delete(Key("tensorstack.dev", "MLService", "ns", "iris"))
    await world.settle()
    assert world.stopped("iris-predict-v1-00001")
    assert world.engine.specs == {}
    assert world.events() == []
    assert world.sink.last is not None
    assert world.sink.last.routes == {}


async def test_a_secret_env_is_resolved_and_kept_literal(world: World) -> None:
    world.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tok", "namespace": "ns"},
            "stringData": {"t": "a$(PORT)b"},
        }
    )
    svc = mlservice()
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}}]
    svc["spec"]["releases"][0]["predictor"]["template"] = {
        "spec": {"containers": [{"name": "user-container", "env": env}]}
    }
    world.apply(svc)
    await world.settle()
    spec = world.engine.specs[RevisionId("ns/iris-predict-v1-00001")]
    (token,) = spec.user_container.env
    assert token.value_from == {"secretKeyRef": {"name": "tok", "key": "t"}}  # unresolved
    local = world.engine.prepared[spec.id]
    assert isinstance(local, LocalRevision)
    (resolved,) = local.user_container.env
    assert resolved.value == "a$(PORT)b"  # the launch keeps a Secret's value literal
    assert "a$(PORT)b" not in str(world.status())


async def test_status_only_writes_do_not_reconcile(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    passes = world.controllers.queue.passes
    current = world.get("MLService", "iris")
    world.store.update_status({**current, "status": {**current["status"], "extra": 1}})
    await world.settle()
    assert world.controllers.queue.passes == passes


async def test_a_new_controller_continues_the_recorded_revision(world: World) -> None:
    world.apply(mlservice())
    await world.settle()
    world.mark_ready("iris-predict-v1-00001")
    world.apply(mlservice(uri="pvc://models/iris2/"))
    await world.settle()
    world.mark_ready("iris-predict-v1-00002")
    await world.settle()
    async with world.restarted() as engine:
        await world.settle()
        assert list(engine.specs) == [RevisionId("ns/iris-predict-v1-00002")]  # same name
        world.mark_ready("iris-predict-v1-00002")
        await world.settle()
        assert world.status()["ready"] is True


async def test_a_revision_keeps_secret_references_and_claims_unresolved(
    neutral_world: World,
) -> None:
    """What an engine receives names its Secrets and claims; resolving them is the engine's
    job (the local engine's resolver, or a cluster's kubelet)."""
    svc = mlservice(uri="s3://models/iris/")
    predictor = svc["spec"]["releases"][0]["predictor"]
    predictor["storage"] = {"s3Storage": {"secretName": "s3-creds"}}
    token = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}}
    predictor["template"] = {
        "spec": {
            "containers": [
                {
                    "name": "user-container",
                    "env": [token],
                    "volumeMounts": [{"name": "data", "mountPath": "/mnt/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "shared"}}],
        }
    }
    neutral_world.apply(svc)
    await neutral_world.settle()
    revision = neutral_world.engine.specs[RevisionId("ns/iris-predict-v1-00001")]
    assert revision.model is not None
    assert (revision.model.uri, revision.model.secret) == ("s3://models/iris/", "s3-creds")
    (container,) = revision.pod_spec["containers"]
    assert token in container["env"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "shared"}} in (
        revision.pod_spec["volumes"]
    )
    assert revision.labels["serving.mlservice.dev/release"] == "v1"
    assert revision.labels["serving.mlservice.dev/revision-hash"] == revision.hash
    assert "127.0.0.1" not in str(revision)  # nothing of this machine


async def test_a_restarted_controller_publishes_no_partial_first_snapshot(home: Home) -> None:
    """A gateway still serves the previous control plane's routes: the first snapshot waits
    until every stored service was reconciled once, or it would drop the rest (404s)."""
    store = SqliteStore.in_memory()
    install_builtin_runtimes(store)
    for name in ("iris", "slow"):
        store.create(validate_object(mlservice(name)))
    release = asyncio.Event()

    async def prepare(revision: Revision) -> Revision:
        if revision.service == "slow":
            await release.wait()  # a model download that takes a while
        return revision

    engine, sink = FakeEngine(prepare=prepare, auto_ready=True), MemorySink()
    config = ControllerConfig(home=home, domain="example.test", drain_seconds=0.0)
    controllers = Controllers(store=store, engine=engine, config=config, sinks=[sink])
    await controllers.start()
    try:
        await asyncio.sleep(0.3)
        assert sink.last is None  # "iris" is reconciled, "slow" not yet: nothing published
        release.set()
        await controllers.idle()
        assert sink.last is not None
        assert {"iris.ns.example.test", "slow.ns.example.test"} <= set(sink.last.routes)
    finally:
        await controllers.close()
        await engine.close()
        store.close()


async def test_a_replaced_transformer_revision_is_stopped_after_its_drain(world: World) -> None:
    """The transformer's track asks to run again when its old revision's drain ends; the
    MLService reconciler must keep that delay, or the old revision runs on."""
    svc = mlservice()
    command = ["mls", "serve", "t"]
    svc["spec"]["transformer"] = {
        "template": {"spec": {"containers": [{"name": "user-container", "command": command}]}}
    }
    world.apply(svc)
    await world.settle()
    for revision in ("iris-predict-v1-00001", "iris-transform-00001"):
        world.mark_ready(revision)
    await world.settle()
    command.append("--workers=2")
    world.apply(svc)
    await world.settle()
    world.mark_ready("iris-transform-00002")
    await world.settle()
    assert world.status()["transformer"]["ready"] is True
    assert world.stopped("iris-transform-00001")
    assert not world.stopped("iris-transform-00002")
