"""A revision's pod on a cluster: the PodSpec a kubelet runs, as Kubernetes JSON.

What the local engine resolves on this machine becomes objects here: the model is fetched by
an init container `storage-initializer` (`mls storage-init URI /mnt/models`) into an emptyDir
the server mounts at the runtime's path; a `pvc://` claim is mounted into that init container
(at `/mnt/pvc`, as KServe does), an S3 Secret's `.s3cfg` too (never its values); the loopback
ports the local engine hands out become fixed ones (`$(PORT)` -> 8080, `$(GRPC_PORT)` ->
8081, written out because Knative reserves the `PORT` variable); a logger or batcher adds the
`mls agent` container in front of the server, which then owns the pod's served port.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mlservice.engine.kube.workload import Component, Workload
from mlservice.engine.revision import ModelSource
from mlservice.errors import NotRenderable
from mlservice.naming import REVISION_LABEL
from mlservice.runtime.kserve_container import LOCAL_COMMANDS, image_repository

STORAGE_INITIALIZER: Final = "storage-initializer"
AGENT_CONTAINER: Final = "agent"
MODEL_VOLUME: Final = "mls-model"
INIT_MODEL_PATH: Final = "/mnt/models"
PVC_ROOT: Final = "/mnt/pvc"
"""Where the init container sees a `pvc://CLAIM/PATH` URI's claim (`mls storage-init`'s
`--claim-root` default, KServe's mount point)."""
S3CFG_VOLUME: Final = "mls-s3cfg"
S3CFG_DIR: Final = "/etc/mlservice/s3"
S3CFG_KEY: Final = ".s3cfg"
SERVING_PORT: Final = 8080
GRPC_PORT: Final = 8081
AGENT_PORT: Final = 9081
T9K_SCHEDULER: Final = "t9k-scheduler"
QUEUE_LABEL: Final = "scheduler.tensorstack.dev/queue"
KSERVE_ISVC_LABEL: Final = "serving.kserve.io/inferenceservice"
KSERVE_COMPONENT_LABEL: Final = "component"
SERVING_CONTAINERS: Final = ("user-container", "kserve-container")
_MLS_SERVE_BATCH_FLAGS: Final = ("--max-batch-size=", "--max-batch-delay-ms=")
OWN_IMAGE: Final = "mlservice/mls"
"""The image repository KServe runtimes name for `mls serve` (`kserve-onnxserver`)."""


@dataclass(frozen=True)
class PodTemplate:
    """A pod template and the port its pod serves on (the agent's, if it has one)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]
    port: int

    def as_json(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"labels": self.labels}
        if self.annotations:
            metadata["annotations"] = self.annotations
        return {"metadata": metadata, "spec": self.spec}


def pod_template(
    component: Component,
    workload: Workload,
    *,
    image: str,
    knative: bool,
    mount_claims: bool = False,
) -> PodTemplate:
    """The pod of `component`. `mount_claims` mounts a `pvc://` model's claim straight into
    the server (a SimpleMLService's `storage.pvc`) instead of copying it in."""
    revision = component.revision
    spec = copy.deepcopy(dict(revision.pod_spec))
    containers: list[dict[str, Any]] = spec["containers"]
    user = containers[_serving_index(containers)]
    declared = user.get("ports") or []
    served = int(declared[0]["containerPort"]) if declared else SERVING_PORT
    grpc = GRPC_PORT if served != GRPC_PORT else GRPC_PORT + 1
    for container in containers:
        _native_entrypoint(container, image=image)
        container.setdefault("image", image)
        _substitute_ports(container, served=served, grpc=grpc)
    user["env"] = [*user.get("env", []), *_identity(component, workload)]
    if revision.predictor_host:
        host = revision.predictor_host
        user["env"] += [
            {"name": "PREDICTOR_HOST", "value": host},
            {"name": "PREDICTOR_HOST_HEADER", "value": host},
        ]
    if not declared:
        user["ports"] = [{"containerPort": served}]
    _model(spec, user, revision.model, image=image, mount_claims=mount_claims)
    port = served
    if component.needs_agent:
        port = AGENT_PORT if served != AGENT_PORT else AGENT_PORT + 1
        user.pop("ports", None)  # one container serves the pod: the agent
        if knative:
            user.pop("readinessProbe", None)  # Knative probes the serving container only
        containers.append(_agent(component, workload, upstream=served, port=port, image=image))
    if workload.queue is not None:
        spec["schedulerName"] = T9K_SCHEDULER
    return PodTemplate(_labels(component, workload), dict(revision.annotations), spec, port)


def _model(
    spec: dict[str, Any],
    user: dict[str, Any],
    model: ModelSource | None,
    *,
    image: str,
    mount_claims: bool,
) -> None:
    if model is None:
        return
    if model.uri or model.storage:
        if mount_claims and model.uri.startswith("pvc://"):
            _mount_claim(spec, user, model)
        else:
            _storage_initializer(spec, user, model, image=image)
    if model.service_account and model.service_account != "default":
        spec["serviceAccountName"] = model.service_account


def _labels(component: Component, workload: Workload) -> dict[str, str]:
    """The revision's labels (its name left to the engine: Knative's or the ReplicaSet's),
    the owner labels, the scheduler's queue, and KServe's for an InferenceService."""
    revision = component.revision
    labels = {k: v for k, v in revision.labels.items() if k != REVISION_LABEL}
    labels.update(workload.labels)
    if workload.queue is not None:
        labels[QUEUE_LABEL] = workload.queue
    if workload.kind == "InferenceService":
        # KServe's own pod labels, so tools written for KServe select these pods too.
        labels[KSERVE_ISVC_LABEL] = workload.name
        labels[KSERVE_COMPONENT_LABEL] = (
            "transformer" if revision.component == "transform" else "predictor"
        )
    return labels


def _serving_index(containers: list[dict[str, Any]]) -> int:
    names = [c.get("name") for c in containers]
    for wanted in SERVING_CONTAINERS:
        if wanted in names:
            return names.index(wanted)
    return 0


def _identity(component: Component, workload: Workload) -> list[dict[str, Any]]:
    """Who the pod serves, as the local engine tells its replicas (the agent reads
    `MLS_SERVICE`, `MLS_NAMESPACE`, `MLS_COMPONENT`, `MLS_RELEASE` for its events)."""
    revision = component.revision
    return [
        {"name": "MLS_KIND", "value": workload.kind.lower()},
        {"name": "MLS_SERVICE", "value": workload.name},
        {"name": "MLS_NAMESPACE", "value": workload.namespace},
        {"name": "MLS_COMPONENT", "value": revision.component},
        {"name": "MLS_RELEASE", "value": revision.release},
    ]


def _native_entrypoint(container: dict[str, Any], *, image: str) -> None:
    """Undo the local stand-in for a KServe server image: `mls up` runs `mls serve --format
    sklearn` where `kserve/sklearnserver` has no command; a cluster runs the image's own
    entrypoint with the same flags. mlservice's own server image becomes `image`."""
    named = container.get("image")
    repository = image_repository(named) if isinstance(named, str) else ""
    local = LOCAL_COMMANDS.get(repository)
    if local is None or tuple(container.get("command") or ()) != local:
        return
    if repository == OWN_IMAGE:
        container["image"] = image
        return
    del container["command"]
    # `mls serve`'s own batching flags (a batcher's, controller/kserve_pod.py): KServe's
    # server does not take them; its batching is the agent's.
    args = container.get("args") or []
    container["args"] = [a for a in args if not a.startswith(_MLS_SERVE_BATCH_FLAGS)]


def _substitute_ports(container: dict[str, Any], *, served: int, grpc: int) -> None:
    def fill(text: str) -> str:
        return text.replace("$(PORT)", str(served)).replace("$(GRPC_PORT)", str(grpc))

    for key in ("command", "args"):
        if key in container:
            container[key] = [fill(item) for item in container[key]]
    for var in container.get("env", []):
        if "value" in var:
            var["value"] = fill(var["value"])


def _storage_initializer(
    spec: dict[str, Any], user: dict[str, Any], model: ModelSource, *, image: str
) -> None:
    volumes: list[dict[str, Any]] = spec.setdefault("volumes", [])
    volumes.append({"name": MODEL_VOLUME, "emptyDir": {}})
    mounts: list[dict[str, Any]] = [{"name": MODEL_VOLUME, "mountPath": INIT_MODEL_PATH}]
    env: list[dict[str, Any]] = []
    if model.uri.startswith("pvc://"):
        claim = model.uri.removeprefix("pvc://").split("/", 1)[0]
        name = f"mls-pvc-{claim}"[:63].rstrip("-")
        volumes.append(
            {"name": name, "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
        )
        mounts.append({"name": name, "mountPath": PVC_ROOT, "readOnly": True})
    if model.secret is not None:
        items = [{"key": S3CFG_KEY, "path": S3CFG_KEY}]
        volumes.append(
            {"name": S3CFG_VOLUME, "secret": {"secretName": model.secret, "items": items}}
        )
        mounts.append({"name": S3CFG_VOLUME, "mountPath": S3CFG_DIR, "readOnly": True})
        env.append({"name": "MLS_S3CFG", "value": f"{S3CFG_DIR}/{S3CFG_KEY}"})
    if model.storage is not None:
        # KServe's storage-initializer reads the `storage-config` entry and its overrides.
        storage = model.storage
        key = storage.key or "default"
        ref = {"secretKeyRef": {"name": storage.secret, "key": key}}
        env.append({"name": "STORAGE_CONFIG", "valueFrom": ref})
        override = dict(storage.parameters)
        if storage.path:
            override["path"] = storage.path
        if override:
            env.append({"name": "STORAGE_OVERRIDE_CONFIG", "value": json.dumps(override)})
    uri = model.uri or _storage_uri(model)
    init: dict[str, Any] = {
        "name": STORAGE_INITIALIZER,
        "image": image,
        "args": ["storage-init", uri, INIT_MODEL_PATH],
        "volumeMounts": mounts,
    }
    if env:
        init["env"] = env
    spec["initContainers"] = [init, *spec.get("initContainers", [])]
    _mount_model(user, MODEL_VOLUME, model.mount_path, sub_path=None)


def _storage_uri(model: ModelSource) -> str:
    """KServe's `storage` without a URI: the bucket is in the `storage-config` entry, which
    render does not read, unless `parameters` name it."""
    storage = model.storage
    assert storage is not None
    bucket = dict(storage.parameters).get("bucket")
    if not bucket:
        raise NotRenderable(
            f"storage key {storage.key or 'default'!r} names its bucket only inside the "
            f"{storage.secret} Secret, which render does not read; set "
            "storage.parameters.bucket or a storageUri."
        )
    return f"s3://{bucket}/{storage.path.strip('/')}"


def _mount_claim(spec: dict[str, Any], user: dict[str, Any], model: ModelSource) -> None:
    claim, _, sub_path = model.uri.removeprefix("pvc://").partition("/")
    volumes: list[dict[str, Any]] = spec.setdefault("volumes", [])
    volumes.append({"name": MODEL_VOLUME, "persistentVolumeClaim": {"claimName": claim}})
    _mount_model(user, MODEL_VOLUME, model.mount_path, sub_path=sub_path.strip("/") or None)


def _mount_model(user: dict[str, Any], volume: str, path: str, *, sub_path: str | None) -> None:
    mounts: list[dict[str, Any]] = user.setdefault("volumeMounts", [])
    if any(m.get("mountPath") == path for m in mounts):
        return  # the pod mounts something there itself: it wins
    mount: dict[str, Any] = {"name": volume, "mountPath": path, "readOnly": True}
    if sub_path:
        mount["subPath"] = sub_path
    mounts.append(mount)
    user["env"] = [*user.get("env", []), {"name": "MODEL_DIR", "value": path}]


def _agent(
    component: Component, workload: Workload, *, upstream: int, port: int, image: str
) -> dict[str, Any]:
    args = ["agent", "--upstream", f"127.0.0.1:{upstream}", "--port", str(port)]
    if workload.kind == "InferenceService":
        args += ["--kind", "kserve"]  # KServe's event types and extensions
    logger = component.logger
    if logger is not None:
        for url in logger.urls:
            args += ["--logger-url", url]
        args += ["--logger-mode", logger.mode]
    if component.max_batch_size is not None:
        args += ["--max-batch-size", str(component.max_batch_size)]
    if component.max_latency_ms is not None:
        args += ["--max-latency", str(component.max_latency_ms)]
    return {
        "name": AGENT_CONTAINER,
        "image": image,
        "args": args,
        "ports": [{"containerPort": port}],
        "env": _identity(component, workload),
    }


def knative_features(pod: Mapping[str, Any]) -> set[str]:
    """The `config-features` flags stock Knative needs enabled to accept this PodSpec."""
    flags = {flag for field, flag in _POD_FLAGS.items() if pod.get(field)}
    claims = {v["name"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v}
    if claims:
        flags.add("kubernetes.podspec-persistent-volume-claim")
    containers = [*pod.get("containers", []), *pod.get("initContainers", [])]
    for container in containers:
        for mount in container.get("volumeMounts", []):
            if mount["name"] in claims and not mount.get("readOnly"):
                flags.add("kubernetes.podspec-persistent-volume-write")
        for var in container.get("env", []):
            if "fieldRef" in var.get("valueFrom", {}):
                flags.add("kubernetes.podspec-fieldref")
    return flags


_POD_FLAGS: Final = {
    "initContainers": "kubernetes.podspec-init-containers",
    "schedulerName": "kubernetes.podspec-schedulername",
    "affinity": "kubernetes.podspec-affinity",
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "tolerations": "kubernetes.podspec-tolerations",
    "runtimeClassName": "kubernetes.podspec-runtimeclassname",
    "hostAliases": "kubernetes.podspec-hostaliases",
    "priorityClassName": "kubernetes.podspec-priorityclassname",
    "dnsPolicy": "kubernetes.podspec-dnspolicy",
    "dnsConfig": "kubernetes.podspec-dnsconfig",
    "topologySpreadConstraints": "kubernetes.podspec-topologyspreadconstraints",
    "securityContext": "kubernetes.podspec-securitycontext",
}
