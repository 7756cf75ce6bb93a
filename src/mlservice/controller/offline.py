"""The controllers' pure steps without a store or an engine: manifests -> Kubernetes objects.

The same functions the reconcilers call (runtime selection, rendering, `plan_of`) turn each
MLService, SimpleMLService and InferenceService into a `Workload` of engine-neutral revisions
with their routing; `engine.kube` writes those out. It reads only the manifests given and the
built-in runtimes, never an API, so `mls kube render` and the operator agree.

`render(objects, mode=, image=, domain=, namespace=, warn=)` renders a whole set (what the CLI
prints); `render_object(obj, runtimes=, options=)` one parent's children (what the operator
applies for that parent).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlservice.controller import inferenceservice as isvc_controller
from mlservice.controller import mlservice as mlsvc_controller
from mlservice.controller import simple as simple_controller
from mlservice.controller.track import Failure, Plan
from mlservice.engine import Revision
from mlservice.engine.kube import (
    LoggerArgs,
    Pinned,
    RenderOptions,
    Split,
    Workload,
    render_workload,
)
from mlservice.engine.kube.render import (
    DEFAULT_DOMAIN,
    DEFAULT_IMAGE,
    PASSTHROUGH_KINDS,
    Mode,
    render_workloads,
    unrendered,
)
from mlservice.engine.kube.workload import Component, Mirror
from mlservice.errors import InvalidInput, NotRenderable
from mlservice.naming import KIND_LABEL, SERVICE_LABEL, Hosts
from mlservice.resources import (
    InferenceService,
    MLService,
    MLServiceRuntime,
    SimpleMLService,
    parse_as,
    validate_object,
)
from mlservice.resources import kinds as kind_table
from mlservice.resources.kserve_component import ComponentSpec
from mlservice.resources.mlservice import Logger, Shadow
from mlservice.runtime import builtin, kserve

PARENT_KINDS = ("MLService", "SimpleMLService", "InferenceService")
RUNTIME_KINDS = ("MLServiceRuntime", "ServingRuntime", "ClusterServingRuntime")
NAMESPACE_RUNTIME_KINDS = ("MLServiceRuntime", "ServingRuntime")

Obj = dict[str, Any]


def render(
    objects: Sequence[Mapping[str, Any]],
    *,
    mode: Mode = "knative",
    image: str = DEFAULT_IMAGE,
    domain: str = DEFAULT_DOMAIN,
    namespace: str = "default",
    warn: Callable[[str], None] | None = None,
) -> list[Obj]:
    """Every object the manifests become, in a deterministic order. Runtimes among them are
    used for selection, not emitted; Secrets and claims are passed through. `warn` hears
    which fields have no object (`engine.kube.unrendered`)."""
    options = RenderOptions(mode=mode, image=image, domain=domain)
    placed = [_placed(obj, namespace) for obj in objects]
    runtimes = [obj for obj in placed if obj["kind"] in RUNTIME_KINDS]
    workloads = [
        workload_of(obj, runtimes=runtimes, domain=domain)
        for obj in placed
        if obj["kind"] in PARENT_KINDS
    ]
    passthrough = [obj for obj in placed if obj["kind"] in PASSTHROUGH_KINDS]
    if warn is not None:
        for message in (m for w in workloads for m in unrendered(w, options)):
            warn(message)
    return render_workloads(workloads, passthrough, options=options)


def render_object(
    obj: Mapping[str, Any],
    *,
    runtimes: Sequence[Mapping[str, Any]] = (),
    options: RenderOptions,
) -> list[Obj]:
    """One parent's children. `runtimes` are the cluster's MLServiceRuntime, ServingRuntime
    and ClusterServingRuntime manifests (the built-in ones are added)."""
    return render_workload(_one_workload(obj, runtimes, options), options)


def unrendered_object(
    obj: Mapping[str, Any],
    *,
    runtimes: Sequence[Mapping[str, Any]] = (),
    options: RenderOptions,
) -> list[str]:
    """Which fields of one parent have no object in this mode, a warning each (as `render`'s
    `warn` hears them)."""
    return unrendered(_one_workload(obj, runtimes, options), options)


def _one_workload(
    obj: Mapping[str, Any], runtimes: Sequence[Mapping[str, Any]], options: RenderOptions
) -> Workload:
    placed = _placed(obj, str((obj.get("metadata") or {}).get("namespace") or "default"))
    return workload_of(placed, runtimes=runtimes, domain=options.domain)


def workload_of(
    obj: Mapping[str, Any], *, runtimes: Sequence[Mapping[str, Any]], domain: str
) -> Workload:
    """The workload of one validated parent; `NotRenderable` when a component cannot run."""
    kind = obj["kind"]
    if kind == "MLService":
        return _mlservice(parse_as(MLService, obj), runtimes, domain=domain)
    if kind == "SimpleMLService":
        return _simple(parse_as(SimpleMLService, obj))
    if kind == "InferenceService":
        return _inferenceservice(parse_as(InferenceService, obj), obj, runtimes, domain=domain)
    raise InvalidInput(f"{kind} is not rendered: only {', '.join(PARENT_KINDS)} have children.")


# -- per kind ------------------------------------------------------------------------------


def _mlservice(
    service: MLService, runtimes: Sequence[Mapping[str, Any]], *, domain: str
) -> Workload:
    spec = service.spec
    ours = [parse_as(MLServiceRuntime, r) for r in runtimes if r["kind"] == "MLServiceRuntime"]
    available = [*ours, *builtin.runtimes()]
    where = f"MLService {service.namespace}/{service.name}"
    canary = (spec.canary_traffic_percent or 0) if spec.canary else 0
    splits = []
    for index, release in enumerate(spec.releases):
        predictor = release.predictor
        path = f"spec.releases[{index}].predictor"
        plan = mlsvc_controller.predictor_plan(service, release, available)
        percent = 0
        if release.name == spec.default:
            percent = 100 - canary
        elif release.name == spec.canary:
            percent = canary
        component = Component(
            revision=_built(plan, where, path),
            field_path=path,
            min_replicas=predictor.min_replicas,
            max_replicas=predictor.max_replicas or None,
            container_concurrency=predictor.container_concurrency,
            timeout_seconds=predictor.timeout_seconds,
            logger=_logger(predictor.logger),
        )
        splits.append(Split(release.name, component, percent))
    transformer = None
    if spec.transformer is not None:
        host = Hosts(domain).predictor(service.name, service.namespace)
        plan = mlsvc_controller.transformer_plan(service, predictor_host=host)
        transformer = Component(
            revision=_built(plan, where, "spec.transformer"),
            field_path="spec.transformer",
            min_replicas=spec.transformer.min_replicas,
            max_replicas=spec.transformer.max_replicas or None,
            logger=_logger(spec.transformer.logger),
        )
    scheduler = spec.scheduler.t9k_scheduler if spec.scheduler else None
    return Workload(
        kind="MLService",
        namespace=service.namespace,
        name=service.name,
        releases=tuple(splits),
        transformer=transformer,
        queue=scheduler.queue if scheduler else None,
        labels=_owner_labels("MLService", service.name),
        shadow=_mirror(spec.shadow, canary=spec.canary),
        analysis=spec.analysis is not None,
    )


def _mirror(shadow: Shadow | None, *, canary: str | None) -> Mirror | None:
    # The canary answers clients already: the gateway copies nothing to it, nor does this.
    if shadow is None or shadow.release == canary:
        return None
    return Mirror(shadow.release, shadow.percent)


def _simple(svc: SimpleMLService) -> Workload:
    where = f"SimpleMLService {svc.namespace}/{svc.name}"
    plan = simple_controller.simple_plan(svc)
    component = Component(
        revision=_built(plan, where, "spec"),
        field_path="spec",
        min_replicas=svc.spec.replicas,
        max_replicas=svc.spec.replicas,
    )
    scheduler = svc.spec.scheduler.t9k_scheduler if svc.spec.scheduler else None
    return Workload(
        kind="SimpleMLService",
        namespace=svc.namespace,
        name=svc.name,
        releases=(Split("", component, 100),),
        replicas=svc.spec.replicas,
        service_ports=tuple((p.name, p.port) for p in svc.spec.service.ports),
        queue=scheduler.queue if scheduler else None,
        labels=_owner_labels("SimpleMLService", svc.name),
    )


def _inferenceservice(
    isvc: InferenceService,
    obj: Mapping[str, Any],
    runtimes: Sequence[Mapping[str, Any]],
    *,
    domain: str,
) -> Workload:
    where = f"InferenceService {isvc.namespace}/{isvc.name}"
    candidates = [
        copy.deepcopy(dict(r))
        for r in runtimes
        if r["kind"] in ("ServingRuntime", "ClusterServingRuntime")
    ]
    candidates += kserve.manifests()
    outcome = isvc_controller.predictor_outcome(isvc, dict(obj), runtimes=candidates)
    predictor = isvc.spec.predictor
    component = _kserve_component(predictor, outcome.plan, where, "spec.predictor")
    split = Split("", component, 100, pinned=_pinned(isvc, obj))
    transformer = None
    if isvc.spec.transformer is not None:
        host = Hosts(domain).predictor(isvc.name, isvc.namespace)
        plan = isvc_controller.transformer_plan(isvc, predictor_host=host)
        transformer = _kserve_component(isvc.spec.transformer, plan, where, "spec.transformer")
    return Workload(
        kind="InferenceService",
        namespace=isvc.namespace,
        name=isvc.name,
        releases=(split,),
        transformer=transformer,
        labels=_owner_labels("InferenceService", isvc.name),
    )


def _pinned(isvc: InferenceService, obj: Mapping[str, Any]) -> Pinned | None:
    """KServe's canary: with `canaryTrafficPercent` P below 100, the latest revision gets P %
    and the one rolled out before (`status.components.predictor.latestRolledoutRevision`,
    which the operator keeps while the canary runs) the rest. A manifest without that status
    (rendered offline, or never rolled out) sends everything to the latest revision."""
    percent = isvc.spec.predictor.canary_traffic_percent
    status = obj.get("status") or {}
    predictor = (status.get("components") or {}).get("predictor") or {}
    rolled_out = predictor.get("latestRolledoutRevision")
    if percent is None or percent >= 100 or not rolled_out:
        return None
    return Pinned(str(rolled_out), percent, tags=isvc.tag_routing)


def _kserve_component(
    spec: ComponentSpec, plan: Plan | Failure, where: str, path: str
) -> Component:
    low, high = spec.replica_bounds
    logger = spec.logger
    batcher = spec.batcher
    return Component(
        revision=_built(plan, where, path),
        field_path=path,
        min_replicas=low,
        max_replicas=high,
        container_concurrency=spec.container_concurrency,
        timeout_seconds=spec.timeout,
        logger=None
        if logger is None
        else LoggerArgs(urls=(str(logger.url),) if logger.url else (), mode=logger.mode),
        max_batch_size=batcher.max_batch_size if batcher else None,
        max_latency_ms=batcher.max_latency if batcher else None,
    )


# -- helpers --------------------------------------------------------------------------------


def _built(plan: Plan | Failure, where: str, path: str) -> Revision:
    """The plan's revision; Knative and the Deployment name the running revisions, so the
    name here is only the first one's."""
    if isinstance(plan, Failure):
        raise NotRenderable(f"{where}: {path}: {plan.reason}: {plan.message}")
    return plan.build("")


def _logger(logger: Logger | None) -> LoggerArgs | None:
    if logger is None:
        return None
    return LoggerArgs(urls=tuple(str(url) for url in logger.urls or ()), mode=logger.mode)


def _owner_labels(kind: str, name: str) -> dict[str, str]:
    return {KIND_LABEL: kind.lower(), SERVICE_LABEL: name}


def _placed(obj: Mapping[str, Any], namespace: str) -> Obj:
    """The object validated (defaults filled in), in `namespace` unless it names one."""
    placed = copy.deepcopy(dict(obj))
    info = kind_table.by_kind(str(placed.get("kind", "")))
    if info is not None and info.namespaced:
        placed.setdefault("metadata", {}).setdefault("namespace", namespace)
    if placed.get("kind") in PASSTHROUGH_KINDS:
        validate_object(copy.deepcopy(placed))
        return placed  # as written: its values go out only in itself
    return validate_object(placed)
