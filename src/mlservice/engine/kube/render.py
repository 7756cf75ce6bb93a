"""Workloads -> Kubernetes objects, as plain dicts in a deterministic order: a pure function.

`render_workloads(workloads, passthrough, options)` is what `mls kube render` prints and the
operator applies (`render_workload` for one parent's children). Knative mode emits Knative
`Configuration`/`Route`/`Service`; standard mode `Deployment`/`Service`/`HPA`/`HTTPRoute`; a
SimpleMLService is a Deployment and a Service in both. Secrets and PersistentVolumeClaims are
passed through unchanged apart from our label. No `ownerReferences`: there is no uid offline
(the operator adds them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from mlservice.engine.kube import pod as pods
from mlservice.engine.kube.knative import knative_objects
from mlservice.engine.kube.meta import MANAGED_BY, MANAGER
from mlservice.engine.kube.standard import standard_objects
from mlservice.engine.kube.workload import Workload
from mlservice.errors import NotRenderable

Mode = Literal["knative", "standard"]
MODES: Final[tuple[str, ...]] = get_args(Mode)
DEFAULT_IMAGE: Final = "mlservice:latest"
DEFAULT_DOMAIN: Final = "example.com"
DEFAULT_GATEWAY: Final = ("mlservice-gateway", "mls-system")
PASSTHROUGH_KINDS: Final = ("Secret", "PersistentVolumeClaim")

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_GATEWAY",
    "DEFAULT_IMAGE",
    "MODES",
    "Mode",
    "NotRenderable",
    "RenderOptions",
    "knative_features",
    "render_workload",
    "render_workloads",
    "unrendered",
]


@dataclass(frozen=True)
class RenderOptions:
    mode: Mode = "knative"
    image: str = DEFAULT_IMAGE
    """The mlservice image: servers without an image of their own, the storage-initializer
    and the agent run it."""
    domain: str = DEFAULT_DOMAIN
    """The cluster's ingress domain: hosts are `{label}.{namespace}.{domain}`."""
    gateway: tuple[str, str] = DEFAULT_GATEWAY
    """Standard mode: the Gateway (name, namespace) the HTTPRoutes attach to."""


def render_workload(workload: Workload, options: RenderOptions) -> list[dict[str, Any]]:
    """The children of one parent, in a fixed order (the operator applies them)."""
    if workload.kind == "SimpleMLService" or options.mode == "standard":
        return standard_objects(
            workload, image=options.image, domain=options.domain, gateway=options.gateway
        )
    return knative_objects(workload, image=options.image)


def render_workloads(
    workloads: Iterable[Workload],
    passthrough: Iterable[Mapping[str, Any]] = (),
    *,
    options: RenderOptions,
) -> list[dict[str, Any]]:
    """Passed-through Secrets and claims first (pods need them), then each workload's
    children; within a group in (namespace, name) order."""
    kept = sorted(passthrough, key=lambda o: (_rank(o), _key(o)))
    objects = [_passed(obj) for obj in kept]
    for workload in sorted(workloads, key=lambda w: (w.namespace, w.kind, w.name)):
        objects += render_workload(workload, options)
    return objects


def unrendered(workload: Workload, options: RenderOptions) -> list[str]:
    """Why parts of the workload's spec have no object (a warning each, naming the field);
    the rest renders as usual."""
    where = f"{workload.kind} {workload.namespace}/{workload.name}"
    found = []
    if workload.shadow is not None and options.mode == "knative":
        found.append(
            f"{where}: spec.shadow is not rendered in knative mode (a Knative Route cannot "
            f"mirror requests); release {workload.shadow.release} runs without copies "
            "(--mode standard renders an HTTPRoute RequestMirror)."
        )
    if workload.analysis:
        found.append(
            f"{where}: spec.analysis is not rendered: the cluster serves spec's "
            "canaryTrafficPercent as written (the analysis steps it only under mls up)."
        )
    return found


def knative_features(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """The Knative `config-features` flags the objects' pods need (stock Knative refuses
    init containers, claims and schedulerName unless enabled), sorted."""
    flags: set[str] = set()
    for obj in objects:
        if obj.get("apiVersion", "").startswith("serving.knative.dev/"):
            template = (obj.get("spec") or {}).get("template") or {}
            flags |= pods.knative_features(template.get("spec") or {})
    return sorted(flags)


def _passed(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in obj.items() if key != "status"}
    metadata = dict(out.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), MANAGED_BY: MANAGER}
    out["metadata"] = metadata
    return out


def _rank(obj: Mapping[str, Any]) -> int:
    kind = obj.get("kind", "")
    return PASSTHROUGH_KINDS.index(kind) if kind in PASSTHROUGH_KINDS else len(PASSTHROUGH_KINDS)


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))
