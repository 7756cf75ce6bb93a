"""Replicas as read-only `v1` Pods: what kubectl's `get pods`, `describe` and `logs` read.

A replica of revision R is the Pod `{R}-deployment-{suffix}`; its containers are the
revision's PodSpec containers (the server's ports the loopback ones it listens on, at pod IP
127.0.0.1), plus KServe's `storage-initializer` init container when the revision has a model.
A revision whose preparation keeps failing has no replica yet; it shows as one Pending pod
whose init container (a failed download) or container (a missing Secret or program) waits, so
`kubectl logs POD -c storage-initializer` reads why.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlservice.engine.base import ContainerState, LogSpan, PrepareFailure, ReplicaId, ReplicaState
from mlservice.engine.revision import Revision
from mlservice.naming import KSERVE_COMPONENT_LABEL, KSERVE_ISVC_LABEL, pod_name

Obj = dict[str, Any]
STORAGE_INITIALIZER = "storage-initializer"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
POD_IP = "127.0.0.1"
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' pod-name suffix alphabet


@dataclass(frozen=True)
class PodRecord:
    """A Pod, and where its containers' logs are (the current run, and the one before)."""

    obj: Obj
    replica: ReplicaId | None  # None: a revision that failed to prepare (nothing to restart)
    logs: Mapping[str, LogSpan] = field(default_factory=dict)
    previous: Mapping[str, LogSpan] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"]["namespace"])

    @property
    def containers(self) -> list[str]:
        return [str(c["name"]) for c in self.obj["spec"]["containers"]]

    @property
    def init_containers(self) -> list[str]:
        return [str(c["name"]) for c in self.obj["spec"].get("initContainers", [])]


def replica_pod(state: ReplicaState, *, node: str, resource_version: int) -> PodRecord | None:
    """The Pod of a replica (None for a state that carries no revision)."""
    rev = state.revision
    if rev is None:
        return None
    prefix = f"{rev.name}-"
    suffix = state.id[len(prefix) :] if state.id.startswith(prefix) else state.id
    created = timestamp(state.created)
    server = rev.user_container.name
    by_name = {c.name: c for c in state.containers or _server_only(state, server)}
    ports = _ports(state)
    containers = [
        {**c, "ports": ports} if c.get("name") == server else dict(c) for c in _spec_containers(rev)
    ]
    statuses = [
        _container_status(by_name[str(c["name"])], image=c.get("image"), since=created)
        for c in containers
        if str(c["name"]) in by_name
    ]
    phase = "Pending" if state.phase in ("Pending", "Failed", "PortConflict") else "Running"
    obj = _pod(
        rev,
        pod_name(rev.name, suffix),
        uid_of=f"{state.id}@{state.created}",
        created=created,
        resource_version=resource_version,
        node=node,
        containers=containers,
    )
    obj["status"] = {
        "phase": phase,
        "conditions": _conditions(initialized=True, ready=state.ready, since=created),
        "hostIP": POD_IP,
        "hostIPs": [{"ip": POD_IP}],
        "podIP": POD_IP,
        "podIPs": [{"ip": POD_IP}],
        "startTime": created,
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }
    if rev.model is not None:
        done = {"exitCode": 0, "reason": "Completed", "startedAt": created, "finishedAt": created}
        obj["status"]["initContainerStatuses"] = [_init_status({"terminated": done}, ready=True)]
    if state.phase == "Terminating":
        obj["metadata"]["deletionTimestamp"] = timestamp(None)
        obj["metadata"]["deletionGracePeriodSeconds"] = 30
    logs = {c.name: LogSpan(c.log_path, c.log_start) for c in by_name.values()}
    if STORAGE_INITIALIZER in state.logs:
        logs[STORAGE_INITIALIZER] = LogSpan(state.logs[STORAGE_INITIALIZER])
    previous = {c.name: c.previous_log for c in state.containers if c.previous_log is not None}
    return PodRecord(obj, state.id, logs, previous)


def failure_pod(failure: PrepareFailure, *, node: str, resource_version: int) -> PodRecord:
    """The Pending pod of a revision whose preparation keeps failing."""
    rev = failure.revision
    created = timestamp(failure.since)
    containers = [dict(c) for c in _spec_containers(rev)]
    obj = _pod(
        rev,
        pod_name(rev.name, _stable_suffix(rev)),
        uid_of=f"{rev.id}@{rev.hash}@{failure.since}",
        created=created,
        resource_version=resource_version,
        node=node,
        containers=containers,
    )
    restarts = max(0, failure.failures - 1)
    if failure.storage:
        init: Obj = {"waiting": {"reason": "CrashLoopBackOff", "message": failure.message}}
        container_state: Obj = {"waiting": {"reason": "PodInitializing"}}
    else:
        init = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": created}}
        reason = "CreateContainerConfigError"
        container_state = {"waiting": {"reason": reason, "message": failure.message}}
    status: Obj = {
        "phase": "Pending",
        "conditions": _conditions(initialized=not failure.storage, ready=False, since=created),
        "hostIP": POD_IP,
        "hostIPs": [{"ip": POD_IP}],
        "startTime": created,
        "containerStatuses": [
            {
                "name": c["name"],
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": container_state,
                "lastState": {},
                "image": c.get("image") or "",
                "imageID": "",
            }
            for c in containers
        ],
        "qosClass": "BestEffort",
    }
    if rev.model is not None:
        init_status = _init_status(init, ready=not failure.storage)
        status["initContainerStatuses"] = [{**init_status, "restartCount": restarts}]
    obj["status"] = status
    logs = {STORAGE_INITIALIZER: LogSpan(failure.log)} if failure.log is not None else {}
    return PodRecord(obj, None, logs)


def labels_of(rev: Revision) -> dict[str, str]:
    """The revision's labels (ours select by kind, service, component and release), plus, for
    an InferenceService, the ones KServe puts on its pods."""
    labels = dict(rev.labels)
    if rev.kind == "InferenceService":
        labels[KSERVE_ISVC_LABEL] = rev.service
        labels[KSERVE_COMPONENT_LABEL] = (
            "predictor" if rev.component == "predict" else "transformer"
        )
    return labels


def timestamp(seconds: float | None) -> str:
    moment = datetime.now(UTC) if seconds is None else datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(
    rev: Revision,
    name: str,
    *,
    uid_of: str,
    created: str,
    resource_version: int,
    node: str,
    containers: list[Obj],
) -> Obj:
    spec: Obj = {
        key: value
        for key, value in rev.pod_spec.items()
        if key not in ("containers", "initContainers")
    }
    spec.update(containers=containers, nodeName=node, restartPolicy="Always")
    if rev.model is not None:
        args = [rev.model.uri, rev.model.mount_path]
        spec["initContainers"] = [{"name": STORAGE_INITIALIZER, "args": args}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": f"{rev.name}-deployment-",
            "namespace": rev.namespace,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlservice:pod:{uid_of}")),
            "resourceVersion": str(resource_version),
            "creationTimestamp": created,
            "labels": labels_of(rev),
            "annotations": {**rev.annotations, DEFAULT_CONTAINER: rev.user_container.name},
        },
        "spec": spec,
    }


def _server_only(state: ReplicaState, server: str) -> tuple[ContainerState, ...]:
    """For an engine that reports no container states: the server's is the replica's."""
    log = state.logs.get(server)
    if log is None:
        return ()
    return (
        ContainerState(
            name=server,
            phase=state.phase,
            ready=state.ready,
            pid=state.pid,
            restarts=state.restarts,
            reason=state.reason,
            message=state.message,
            log_path=log,
        ),
    )


def _spec_containers(rev: Revision) -> list[Mapping[str, Any]]:
    listed = rev.pod_spec.get("containers") or []
    return [c for c in listed if isinstance(c, Mapping)]


def _ports(state: ReplicaState) -> list[Obj]:
    ports = [("http1", state.port), ("grpc", state.grpc_port)]
    return [
        {"name": name, "containerPort": port, "protocol": "TCP"}
        for name, port in ports
        if port is not None
    ]


def _container_status(container: ContainerState, *, image: Any, since: str) -> Obj:
    running = container.phase in ("Running", "Starting", "Terminating")
    if running:
        state: Obj = {"running": {"startedAt": since}}
    elif container.phase == "Pending":
        state = {"waiting": {"reason": container.reason or "ContainerCreating"}}
    else:
        reason = container.phase if container.phase != "Failed" else "CreateContainerError"
        state = {"waiting": {"reason": reason, "message": container.message}}
    return {
        "name": container.name,
        "ready": container.ready,
        "restartCount": container.restarts,
        "started": running,
        "state": state,
        "lastState": {},
        "image": image or "",
        "imageID": "",
        **({"containerID": f"mls://{container.pid}"} if container.pid is not None else {}),
    }


def _init_status(state: Obj, *, ready: bool) -> Obj:
    return {
        "name": STORAGE_INITIALIZER,
        "ready": ready,
        "restartCount": 0,
        "started": False,
        "state": state,
        "lastState": {},
        "image": "",
        "imageID": "",
    }


def _conditions(*, initialized: bool, ready: bool, since: str) -> list[Obj]:
    values = {
        "PodScheduled": True,
        "Initialized": initialized,
        "ContainersReady": ready,
        "Ready": ready,
    }
    return [
        {"type": kind, "status": "True" if value else "False", "lastTransitionTime": since}
        for kind, value in values.items()
    ]


def _stable_suffix(rev: Revision) -> str:
    """The same five characters for the same revision and spec, so the name holds across
    lists while its preparation keeps failing."""
    digest = hashlib.sha256(f"{rev.id}@{rev.hash}".encode()).digest()
    return "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:5])


_POD_VERBS = ["delete", "get", "list", "watch"]


def listed_pods() -> list[Obj]:
    """The APIResourceList entries of pods and their `log` subresource (`/api/v1`)."""
    return [
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": _POD_VERBS,
            "shortNames": ["po"],
            "categories": ["all"],
        },
        {
            "name": "pods/log",
            "singularName": "",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get"],
        },
    ]


def aggregated_pods() -> Obj:
    """Pods in aggregated discovery v2 (`/api`)."""
    kind = {"group": "", "version": "v1", "kind": "Pod"}
    return {
        "resource": "pods",
        "responseKind": kind,
        "scope": "Namespaced",
        "singularResource": "pod",
        "verbs": _POD_VERBS,
        "shortNames": ["po"],
        "categories": ["all"],
        "subresources": [{"subresource": "log", "responseKind": kind, "verbs": ["get"]}],
    }
