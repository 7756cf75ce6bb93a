"""The SimpleMLService reconciler: a fixed number of replicas of one framework's server.

`custom` runs the given PodSpec; `tensorflow` runs TensorFlow Serving, which must be installed
(else the service reports `RuntimeUnavailable`). `pytorch` serves the TorchServe model store
natively (`mls serve --format torchserve`; `modelsFlag` naming one archive serves that one,
`all` or several serve the store); with annotation `serving.mlservice.dev/torchserve: java` it
runs the real TorchServe behind our V1/V2 adapter (needs `torchserve` and `java`). The serving
container listens on the engine's `$(PORT)`, or on the service port (default 8080) when it
declares none and never asks for `$(PORT)`. Status has `address{dns, ports}` (the gateway's
port) and the conditions `ModelDownloaded` and `Ready`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mlservice.controller.conditions import Condition, conditions_json
from mlservice.controller.context import Context
from mlservice.controller.reconciler import Components, Converged, TrackedReconciler
from mlservice.controller.revisions import plan_of
from mlservice.controller.routing import ServiceRoutes, Settings, routed_revision
from mlservice.controller.scale import replica_count
from mlservice.controller.status import component_status, health
from mlservice.controller.track import Failure, Plan, TrackView
from mlservice.engine import ModelSource
from mlservice.errors import InvalidInput, MLServiceError
from mlservice.naming import ComponentKey, Hosts
from mlservice.resources import PodSpec, SimpleMLService
from mlservice.resources.kinds import API_VERSION
from mlservice.resources.pod import USER_CONTAINER, ResourceRequirements
from mlservice.resources.simplemlservice import MODEL_PATH, TORCHSERVE_ANNOTATION, PyTorch
from mlservice.runtime import render_pod
from mlservice.store import Key, Obj

KIND: Final = "SimpleMLService"
COMPONENT: Final = ComponentKey("predict", token="simple")
TORCHSERVE_LAUNCHER = ["python", "-m", "mlservice.runtime.builtin.torchserve"]


class SimpleMLServiceReconciler(TrackedReconciler[SimpleMLService, Components]):
    api_version = API_VERSION
    kind = KIND

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx, model=SimpleMLService, state=Components)

    async def converge(
        self, key: Key, obj: Obj, svc: SimpleMLService, state: Components
    ) -> Converged:
        track = self._track(state, key, obj, COMPONENT)
        scale = replica_count(
            wanted=svc.spec.replicas, min_replicas=0, max_replicas=None, cap=self.ctx.max_replicas
        )
        delay = await track.step(simple_plan(svc), scale=scale)
        view = await track.view()
        revision = routed_revision(
            view,
            namespace=svc.namespace,
            service=svc.name,
            component="predict",
            release="",
            settings=Settings(),
            activatable=False,  # fixed replicas: nothing scales it up on demand
        )
        routes = ServiceRoutes(
            kind=KIND,
            namespace=svc.namespace,
            name=svc.name,
            releases={"": revision} if revision else {},
        )
        return Converged(self._status(svc, view, obj.get("status")), routes, [delay])

    def _status(
        self, svc: SimpleMLService, view: TrackView, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        return simple_status(svc, view, hosts=self.ctx.hosts, previous=previous, now=self.ctx.now())


def simple_status(
    svc: SimpleMLService,
    view: TrackView,
    *,
    hosts: Hosts,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """A SimpleMLService's status, as a Deployment's: ready once `replicas` replicas are (pure:
    the operator writes it from a Deployment's counts)."""
    wanted = svc.spec.replicas
    ready_count = view.ready_count()
    state = health(view, paused=False)
    ready = wanted > 0 and view.serving is not None and ready_count >= wanted
    if ready:
        ready_condition = Condition(
            "Ready", True, "MinimumReplicasAvailable", f"{ready_count}/{wanted} replicas ready."
        )
    else:
        reason = state.reason or ("NoReplicas" if wanted == 0 else "MinimumReplicasUnavailable")
        message = state.message or f"{ready_count}/{wanted} replicas ready."
        ready_condition = Condition("Ready", False, reason, message)
    conditions = [downloaded(svc, view), ready_condition]
    return {
        "observedGeneration": svc.metadata.generation,
        "address": {
            "dns": hosts.simple(svc.name, svc.namespace),
            "ports": [{"port": hosts.port, "protocol": "TCP"}],
        },
        "conditions": conditions_json(conditions, (previous or {}).get("conditions"), now=now),
        "replicas": wanted,
        **component_status(view, state),
        "ready": ready,
    }


def simple_plan(svc: SimpleMLService) -> Plan | Failure:
    """What the service runs: its framework's or its custom pod, as a revision plan."""
    source = model_source(svc)
    mount = source.mount_path if source else MODEL_PATH
    try:
        pod, required = pod_spec(svc, mount=mount)
        resources = _framework_resources(svc)
        rendered = render_pod(pod, component="predict", resources=resources)
    except MLServiceError as err:
        return Failure("InvalidSpec", err.message)
    return plan_of(
        rendered,
        kind=KIND,
        namespace=svc.namespace,
        service=svc.name,
        component=COMPONENT,
        model=source,
        requires=required,
    )


def model_source(svc: SimpleMLService) -> ModelSource | None:
    """Where the model comes from, and the path the containers expect it at."""
    storage = svc.spec.storage
    if storage is not None and storage.s3 is not None:
        s3 = storage.s3
        return ModelSource(s3.uri, s3.secret_name, mount_path=s3.container_path)
    if storage is not None and storage.pvc is not None:
        pvc = storage.pvc
        uri = f"pvc://{pvc.name}/{pvc.sub_path or ''}"
        return ModelSource(uri, mount_path=pvc.container_path)
    return None


def downloaded(svc: SimpleMLService, view: TrackView) -> Condition:
    if svc.spec.storage is None or (svc.spec.storage.s3 is None and svc.spec.storage.pvc is None):
        return Condition("ModelDownloaded", True, "NoStorage", "spec.storage is not set.")
    failure = view.failure
    if failure is not None and failure.reason == "ModelDownloadFailed":
        return Condition("ModelDownloaded", False, failure.reason, failure.message)
    if view.built or view.serving is not None:
        return Condition("ModelDownloaded", True, "ModelReady", "The model is in place.")
    if failure is not None:
        # Nothing is fetched for a pod that cannot run (a missing server binary, say).
        return Condition(
            "ModelDownloaded",
            False,
            "NotStarted",
            f"The model is fetched once the service can run; it cannot: {failure.reason}.",
        )
    return Condition("ModelDownloaded", False, "Downloading", "The model is being fetched.")


def pod_spec(svc: SimpleMLService, *, mount: str) -> tuple[PodSpec, list[str]]:
    """The pod to run and the programs it needs besides its command."""
    spec = svc.spec
    port = spec.service.ports[0].port
    if spec.custom is not None:
        raw = spec.custom.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        return PodSpec.model_validate(_with_port(raw, port)), []
    if spec.tensorflow is not None:
        command = ["tensorflow_model_server"]
        args = [
            "--port=$(GRPC_PORT)",
            "--rest_api_port=$(PORT)",
            f"--model_name={svc.name}",
            f"--model_base_path={mount}",
        ]
        required: list[str] = []
    else:
        assert spec.pytorch is not None
        java = (svc.metadata.annotations or {}).get(TORCHSERVE_ANNOTATION) == "java"
        command, args = (_torchserve_java if java else _torchserve)(svc, spec.pytorch, mount)
        required = ["torchserve", "java"] if java else []
    container: dict[str, Any] = {"name": USER_CONTAINER, "command": command, "args": args}
    container["ports"] = [{"containerPort": port}]
    try:
        return PodSpec.model_validate({"containers": [container]}), required
    except ValueError as err:  # pydantic's error: unreachable for the shapes above
        raise InvalidInput(f"SimpleMLService {svc.ref} makes an invalid pod: {err}.") from None


def _torchserve(svc: SimpleMLService, pytorch: PyTorch, mount: str) -> tuple[list[str], list[str]]:
    """`mls serve` on the store, or on the one archive `modelsFlag` names (under its name)."""
    name, target = svc.name, mount
    items = [item.strip() for item in (pytorch.models_flag or "").split(",") if item.strip()]
    if len(items) == 1 and items[0] != "all":
        alias, eq, archive = items[0].partition("=")
        name, target = (alias, archive) if eq else (alias.removesuffix(".mar"), alias)
        if "://" not in target:
            target = f"{mount.rstrip('/')}/{target}"
    args = [target, "--name", name, "--format", "torchserve"]
    return ["mls", "serve"], [*args, "--port", "$(PORT)", "--grpc-port", "$(GRPC_PORT)"]


def _torchserve_java(
    svc: SimpleMLService, pytorch: PyTorch, mount: str
) -> tuple[list[str], list[str]]:
    args = ["--port", "$(PORT)", "--grpc-port", "$(GRPC_PORT)", "--model-store", mount]
    return TORCHSERVE_LAUNCHER, [
        *args,
        "--models",
        pytorch.models_flag or "all",
        "--name",
        svc.name,
    ]


def _with_port(raw: dict[str, Any], port: int) -> dict[str, Any]:
    """The serving container (user-container, else the first) gets `port` if it has none."""
    containers_ = [dict(c) for c in raw.get("containers", [])]
    names = [c.get("name") for c in containers_]
    index = names.index(USER_CONTAINER) if USER_CONTAINER in names else 0
    if containers_ and not containers_[index].get("ports"):
        containers_[index]["ports"] = [{"containerPort": port}]
    return {**raw, "containers": containers_}


def _framework_resources(svc: SimpleMLService) -> ResourceRequirements | None:
    spec = svc.spec
    framework = spec.tensorflow or spec.pytorch
    return framework.resources if framework is not None else None
