"""Replicas as read-only Pods, in process over the fake engine: names, labels, statuses,
Tables, selectors, DELETE replacing a replica, 405 for writes, and a revision whose model
download keeps failing shown as `Init:CrashLoopBackOff` with its storage-initializer log."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlservice.api.app import create_app
from mlservice.api.pods import PodView
from mlservice.engine.base import PrepareFailure
from mlservice.engine.fake import FakeEngine
from mlservice.engine.revision import ModelSource, Revision
from mlservice.home import Home
from mlservice.naming import RELEASE_LABEL, ComponentKey, kserve_predictor_key, revision_labels
from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import AppClient

PODS = "/api/v1/namespaces/team/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def isvc_revision(name: str = "sklearn-iris", *, namespace: str = "team") -> Revision:
    revision = f"{name}-predictor-00001"
    key = kserve_predictor_key()
    return Revision(
        namespace=namespace,
        name=revision,
        kind="InferenceService",
        service=name,
        key=key,
        pod_spec={"containers": [{"name": "kserve-container", "image": "kserve/sklearnserver"}]},
        hash="abc123",
        model=ModelSource(uri="pvc://models/iris", mount_path="/mnt/models"),
        labels=revision_labels(
            kind="InferenceService", service=name, key=key, revision=revision, hash_="abc123"
        ),
    )


class Pods:
    """The app over a fake engine, and the engine's knobs on the same loop."""

    def __init__(self, tmp_path: Path) -> None:
        self.engine = FakeEngine()
        view = PodView(node="node-1")
        view.attach(self.engine)
        store = SqliteStore.in_memory()
        app = create_app(store=store, home=Home(tmp_path), token="t0k", pod_view=view)
        self.client = AppClient(app, {"Authorization": "Bearer t0k"}, raise_errors=True)

    def run(self, revision: Revision, replicas: int) -> list[str]:
        asyncio.run(self.engine.ensure(revision, replicas))
        return [s.id for s in asyncio.run(self.engine.replicas(revision.id))]

    def names(self, url: str = PODS, **params: str) -> list[str]:
        answer = self.client.get(url, params=params)
        assert answer.status_code == 200, answer.text
        return [p["metadata"]["name"] for p in answer.json()["items"]]

    def table(self, url: str = PODS) -> dict[str, Any]:
        answer = self.client.get(url, headers={"Accept": TABLE})
        assert answer.status_code == 200, answer.text
        table: dict[str, Any] = answer.json()
        return table


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[Pods]:
    made = Pods(tmp_path)
    yield made
    made.client.close()


def test_replicas_are_pods_named_labelled_and_addressed_as_kserves(pods: Pods) -> None:
    revision = isvc_revision()
    [replica] = pods.run(revision, 1)
    suffix = replica.removeprefix(f"{revision.name}-")
    pods.engine.mark_ready(replica)
    answer = pods.client.get(PODS)
    assert answer.json()["kind"] == "PodList"
    [pod] = answer.json()["items"]
    assert pod["metadata"]["name"] == f"sklearn-iris-predictor-00001-deployment-{suffix}"
    labels = pod["metadata"]["labels"]
    assert labels["serving.kserve.io/inferenceservice"] == "sklearn-iris"
    assert labels["component"] == "predictor"
    assert labels["serving.mlservice.dev/service"] == "sklearn-iris"
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["storage-initializer"]
    [server] = pod["spec"]["containers"]
    assert server["name"] == "kserve-container"
    state = asyncio.run(pods.engine.replicas())[0]
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert ports == {"http1": state.port, "grpc": state.grpc_port}
    status = pod["status"]
    assert (status["phase"], status["podIP"]) == ("Running", "127.0.0.1")
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert pod["spec"]["nodeName"] == "node-1"
    one = pods.client.get(f"{PODS}/{pod['metadata']['name']}")
    assert one.json()["metadata"]["uid"] == pod["metadata"]["uid"]


def test_selectors_and_namespaces_pick_pods(pods: Pods) -> None:
    pods.run(isvc_revision("first"), 2)
    pods.run(isvc_revision("second"), 1)
    pods.run(isvc_revision("elsewhere", namespace="other"), 1)
    assert len(pods.names()) == 3
    chosen = pods.names(labelSelector="serving.kserve.io/inferenceservice=first")
    assert len(chosen) == 2
    assert all(n.startswith("first-predictor-00001-deployment-") for n in chosen)
    assert pods.names(labelSelector="serving.mlservice.dev/service in (second)") == [
        n for n in pods.names() if n.startswith("second-")
    ]
    everywhere = pods.names("/api/v1/pods")
    assert len(everywhere) == 4
    assert any(n.startswith("elsewhere-") for n in everywhere)
    name = chosen[0]
    assert pods.names(fieldSelector=f"metadata.name={name}") == [name]


def test_tables_print_kubectls_pod_columns(pods: Pods) -> None:
    revision = isvc_revision()
    ready, crashing, pending = pods.run(revision, 3)
    pods.engine.mark_ready(ready)
    pods.engine.crash(crashing)
    table = pods.table()
    headers = [c["name"] for c in table["columnDefinitions"]]
    assert headers[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    wide = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 1]
    assert wide == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    rows = {r["cells"][0].rsplit("-", 1)[1]: r["cells"] for r in table["rows"]}
    suffix = {name: name.rsplit("-", 1)[1] for name in (ready, crashing, pending)}
    assert rows[suffix[ready]][1:4] == ["1/1", "Running", 0]
    assert rows[suffix[crashing]][1:4] == ["0/1", "CrashLoopBackOff", 1]
    assert rows[suffix[pending]][1:4] == ["0/1", "ContainerCreating", 0]
    assert rows[suffix[ready]][5:7] == ["127.0.0.1", "node-1"]


def test_deleting_a_pod_replaces_its_replica(pods: Pods) -> None:
    revision = isvc_revision()
    pods.run(revision, 2)
    before = pods.names()
    gone = pods.client.delete(f"{PODS}/{before[0]}")
    assert gone.status_code == 200, gone.text
    assert gone.json()["metadata"]["name"] == before[0]
    after = pods.names()
    assert len(after) == 2
    assert before[0] not in after
    assert before[1] in after
    missing = pods.client.delete(f"{PODS}/{before[0]}")
    assert missing.status_code == 404
    assert missing.json()["details"] == {"kind": "pods", "name": before[0]}
    assert missing.json()["message"] == f'pods "{before[0]}" not found'


@pytest.mark.parametrize(
    ("method", "url"),
    [("POST", PODS), ("PUT", f"{PODS}/x"), ("PATCH", f"{PODS}/x"), ("DELETE", PODS)],
)
def test_pods_are_read_only(pods: Pods, method: str, url: str) -> None:
    answer = pods.client.request(method, url, json={"kind": "Pod"})
    assert answer.status_code == 405
    assert (answer.json()["kind"], answer.json()["reason"]) == ("Status", "MethodNotAllowed")


def test_a_failing_download_is_an_init_crash_loop_with_its_log(pods: Pods, tmp_path: Path) -> None:
    revision = isvc_revision("broken")
    log = tmp_path / "storage-initializer.log"
    log.write_text("fetching pvc://models/nothing\nerror: no such volume\n")
    pods.engine.failures[revision.id] = PrepareFailure(
        revision=revision,
        reason="StorageNotFound",
        message="no such volume",
        failures=3,
        since=time.time(),
        storage=True,
        log=log,
    )
    [row] = pods.table()["rows"]
    name = row["cells"][0]
    assert name.startswith("broken-predictor-00001-deployment-")
    assert row["cells"][1:4] == ["0/1", "Init:CrashLoopBackOff", 2]
    assert pods.names() == [name]  # the same name on every list
    text = pods.client.get(f"{PODS}/{name}/log", params={"container": "storage-initializer"})
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.endswith("error: no such volume\n")
    tail = pods.client.get(
        f"{PODS}/{name}/log", params={"container": "storage-initializer", "tailLines": "1"}
    )
    assert tail.text == "error: no such volume\n"
    waiting = pods.client.get(f"{PODS}/{name}/log", params={"container": "kserve-container"})
    assert waiting.status_code == 400
    assert "is waiting to start: PodInitializing" in waiting.json()["message"]
    config = replace(pods.engine.failures[revision.id], storage=False)
    pods.engine.failures[revision.id] = config
    [row] = pods.table()["rows"]
    assert row["cells"][2] == "CreateContainerConfigError"


def test_logs_name_a_container_and_previous_needs_a_previous_run(pods: Pods) -> None:
    revision = isvc_revision()
    pods.run(revision, 1)
    [name] = pods.names()
    unknown = pods.client.get(f"{PODS}/{name}/log", params={"container": "nope"})
    assert unknown.status_code == 400
    assert unknown.json()["message"] == f"container nope is not valid for pod {name}"
    previous = pods.client.get(f"{PODS}/{name}/log", params={"previous": "true"})
    assert previous.status_code == 400
    assert "previous terminated container" in previous.json()["message"]


def test_a_watch_starts_with_the_pods_there_and_ends_at_its_timeout(pods: Pods) -> None:
    pods.run(isvc_revision(), 2)
    answer = pods.client.get(PODS, params={"watch": "true", "timeoutSeconds": "1"})
    events = [json.loads(line) for line in answer.text.splitlines()]
    assert [e["type"] for e in events] == ["ADDED", "ADDED"]
    assert {e["object"]["metadata"]["name"] for e in events} == set(pods.names())


def test_without_an_engine_there_are_no_pods(tmp_path: Path) -> None:
    app = create_app(store=SqliteStore.in_memory(), home=Home(tmp_path), token="t0k")
    client = AppClient(app, {"Authorization": "Bearer t0k"})
    try:
        assert client.get(PODS).json()["items"] == []
        assert client.get(f"{PODS}/x").status_code == 404
    finally:
        client.close()


def test_an_mlservice_replica_is_a_pod_of_its_server_container_selected_by_release(
    pods: Pods,
) -> None:
    key = ComponentKey("predict", "v1")
    name = "iris-predict-v1-00001"
    revision = Revision(
        namespace="team",
        name=name,
        kind="MLService",
        service="iris",
        key=key,
        pod_spec={"containers": [{"name": "user-container", "command": ["mls", "serve"]}]},
        hash="h1",
        labels=revision_labels(
            kind="MLService", service="iris", key=key, revision=name, hash_="h1"
        ),
    )
    pods.run(revision, 1)
    [pod] = pods.client.get(PODS, params={"labelSelector": RELEASE_LABEL + "=v1"}).json()["items"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["user-container"]
    assert "initContainers" not in pod["spec"]
    assert "initContainerStatuses" not in pod["status"]
    assert "serving.kserve.io/inferenceservice" not in pod["metadata"]["labels"]
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == (
        "user-container"
    )
    assert pods.names(labelSelector=RELEASE_LABEL + "=v2") == []
