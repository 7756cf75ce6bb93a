"""What a parent's children say about it: a pure reading of their `status`, engine-neutral.

Knative: a `Configuration` (per release) or `Service` (the transformer) says which revision was
created last and which is ready, its `Ready` condition why not; each `Revision` how many of its
pods are ready (`actualReplicas`) and wanted (`desiredReplicas`); the `Route` says whether
traffic is routed, its URL and each tag's URL. Standard: a `Deployment` says how many replicas are
ready, an `HTTPRoute` whether a Gateway accepted it. Children are told apart by the owner
labels the renderer puts on them (component, release). A condition `Unknown` is in progress;
`False` is a failure with Knative's (or Kubernetes') reason and message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlservice.naming import COMPONENT_LABEL, RELEASE_LABEL, REVISION_LABEL

ComponentId = tuple[str, str | None]  # (component, release): ("predict", "v1"), ("transform", None)


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str


@dataclass(frozen=True)
class Pods:
    """A Knative Revision's pods: ready (`actualReplicas`) and wanted (`desiredReplicas`)."""

    ready: int
    desired: int


@dataclass(frozen=True)
class Component:
    """One release's predictor, a transformer or a SimpleMLService's pods.

    `replicas`/`ready_replicas` are None where the engine does not count them on the object
    (Knative: the autoscaler scales revisions on demand, to zero included); Knative's counts
    are per revision, in `revisions`."""

    latest: str | None
    ready_revision: str | None
    ready: bool
    ready_replicas: int | None = None
    replicas: int | None = None
    problem: Problem | None = None
    url: str | None = None
    revisions: Mapping[str, Pods] = field(default_factory=dict)


@dataclass(frozen=True)
class Ingress:
    """The Knative Route or the Gateway API HTTPRoute."""

    ready: bool
    problem: Problem | None = None
    url: str | None = None
    tag_urls: Mapping[str, str] = field(default_factory=dict)  # release (tag) -> its URL


@dataclass(frozen=True)
class Observation:
    components: Mapping[ComponentId, Component]
    ingress: Ingress | None


def observe(children: Iterable[Mapping[str, Any]]) -> Observation:
    components: dict[ComponentId, Component] = {}
    pods: dict[ComponentId, dict[str, Pods]] = {}
    routes: list[Ingress] = []
    for child in children:
        kind, api = child.get("kind"), str(child.get("apiVersion", ""))
        labels = _labels(child)
        key: ComponentId = (labels.get(COMPONENT_LABEL, "predict"), labels.get(RELEASE_LABEL))
        status = child.get("status") or {}
        if api.startswith("serving.knative.dev/") and kind in ("Configuration", "Service"):
            components[key] = _knative_component(status)
        elif api.startswith("serving.knative.dev/") and kind == "Route":
            routes.append(_knative_route(status))
        elif api.startswith("serving.knative.dev/") and kind == "Revision":
            name = str((child.get("metadata") or {}).get("name"))
            pods.setdefault(key, {})[name] = _revision_pods(status)
        elif kind == "Deployment":
            components[key] = _deployment(child, status)
        elif kind == "HTTPRoute":
            routes.append(_http_route(status))
    for key, counted in pods.items():
        if key in components:
            components[key] = replace(components[key], revisions=counted)
    return Observation(components, _combined(routes))


def _combined(routes: list[Ingress]) -> Ingress | None:
    """Standard mode routes the split and each release by an HTTPRoute of its own: traffic
    flows once every one is accepted."""
    if not routes:
        return None
    blocking = next((r for r in routes if not r.ready), None)
    urls = next((r for r in routes if r.url), routes[0])
    tags = {tag: url for r in routes for tag, url in r.tag_urls.items()}
    if blocking is not None:
        return Ingress(False, blocking.problem, urls.url, tags)
    return Ingress(True, None, urls.url, tags)


def _labels(child: Mapping[str, Any]) -> dict[str, str]:
    """The object's labels over its pod template's: a Knative Configuration carries the
    release on its template only."""
    template = ((child.get("spec") or {}).get("template") or {}).get("metadata") or {}
    own = (child.get("metadata") or {}).get("labels") or {}
    return {**(template.get("labels") or {}), **own}


def condition(status: Mapping[str, Any], type_: str) -> tuple[bool, Problem | None]:
    """Whether condition `type_` is True, and the problem when it is False (Unknown or absent:
    not yet, no problem)."""
    for item in status.get("conditions") or ():
        if isinstance(item, Mapping) and item.get("type") == type_:
            state = item.get("status")
            if state == "True":
                return True, None
            if state == "False":
                reason = str(item.get("reason") or type_ + "False")
                return False, Problem(reason, str(item.get("message") or ""))
    return False, None


def _knative_component(status: Mapping[str, Any]) -> Component:
    ready, problem = condition(status, "Ready")
    return Component(
        latest=status.get("latestCreatedRevisionName"),
        ready_revision=status.get("latestReadyRevisionName"),
        ready=ready,
        problem=problem,
        url=status.get("url"),
    )


def _revision_pods(status: Mapping[str, Any]) -> Pods:
    return Pods(int(status.get("actualReplicas") or 0), int(status.get("desiredReplicas") or 0))


def _knative_route(status: Mapping[str, Any]) -> Ingress:
    ready, problem = condition(status, "Ready")
    tags = {
        str(t["tag"]): str(t["url"])
        for t in status.get("traffic") or ()
        if isinstance(t, Mapping) and t.get("tag") and t.get("url")
    }
    return Ingress(ready, problem, status.get("url"), tags)


def _deployment(child: Mapping[str, Any], status: Mapping[str, Any]) -> Component:
    meta = child.get("metadata") or {}
    revision = _labels(child).get(REVISION_LABEL) or meta.get("name")
    wanted = int((child.get("spec") or {}).get("replicas", 1) or 0)
    ready_count = int(status.get("readyReplicas") or 0)
    _, problem = condition(status, "Progressing")
    available, unavailable = condition(status, "Available")
    ready = ready_count > 0 or (wanted == 0 and available)
    return Component(
        latest=revision,
        ready_revision=revision if ready else None,
        ready=ready,
        ready_replicas=ready_count,
        replicas=int(status.get("replicas") or 0),
        problem=problem or (unavailable if not ready else None),
    )


def _http_route(status: Mapping[str, Any]) -> Ingress:
    """Accepted by every Gateway it names (`status.parents[]`); none yet: not ready."""
    parents = [p for p in status.get("parents") or () if isinstance(p, Mapping)]
    if not parents:
        return Ingress(False)
    for parent in parents:
        accepted, problem = condition(parent, "Accepted")
        if not accepted:
            return Ingress(False, problem)
    return Ingress(True)
