"""Knative mode, the reference's architecture: per release a `Configuration` (its revisions
are ours), one `Route` splitting traffic by percent with a tag per release, the transformer a
Knative `Service` named after the service (so it owns the service's host). An
InferenceService's canary pins the revision rolled out before by name beside the latest one."""

from __future__ import annotations

from typing import Any, Final

from mlservice.engine.kube.meta import object_meta
from mlservice.engine.kube.names import release_object, route_name
from mlservice.engine.kube.pod import PodTemplate, pod_template
from mlservice.engine.kube.workload import Component, Pinned, Workload

API_VERSION: Final = "serving.knative.dev/v1"
MIN_SCALE: Final = "autoscaling.knative.dev/min-scale"
MAX_SCALE: Final = "autoscaling.knative.dev/max-scale"


def knative_objects(workload: Workload, *, image: str) -> list[dict[str, Any]]:
    objects = []
    traffic = []
    for split in workload.releases:
        name = release_object(workload, split)
        template = _template(split.component, workload, image=image)
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "Configuration",
                "metadata": object_meta(workload, name),
                "spec": {"template": template},
            }
        )
        if split.pinned is not None:
            traffic += _pinned(name, split.pinned, share=split.percent)
            continue
        target: dict[str, Any] = {
            "configurationName": name,
            "latestRevision": True,
            "percent": split.percent,
        }
        if split.release:
            target["tag"] = split.release
        traffic.append(target)
    objects.append(
        {
            "apiVersion": API_VERSION,
            "kind": "Route",
            "metadata": object_meta(workload, route_name(workload)),
            "spec": {"traffic": traffic},
        }
    )
    if workload.transformer is not None:
        template = _template(workload.transformer, workload, image=image)
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "Service",
                "metadata": object_meta(workload, workload.name),
                "spec": {"template": template},
            }
        )
    return objects


def _pinned(configuration: str, pinned: Pinned, *, share: int) -> list[dict[str, Any]]:
    """KServe's canary targets: the latest revision first, then the rolled-out one by name
    (none when the latest takes the whole share)."""
    latest: dict[str, Any] = {
        "configurationName": configuration,
        "latestRevision": True,
        "percent": pinned.latest_percent,
    }
    if pinned.tags:
        latest["tag"] = "latest"
    if pinned.latest_percent >= share:
        return [latest]
    previous: dict[str, Any] = {
        "revisionName": pinned.revision,
        "latestRevision": False,
        "percent": share - pinned.latest_percent,
    }
    if pinned.tags:
        previous["tag"] = "prev"
    return [latest, previous]


def _template(component: Component, workload: Workload, *, image: str) -> dict[str, Any]:
    pod = pod_template(component, workload, image=image, knative=True)
    return _with_revision_settings(pod, component)


def _with_revision_settings(pod: PodTemplate, component: Component) -> dict[str, Any]:
    annotations = dict(pod.annotations)
    annotations[MIN_SCALE] = str(component.min_replicas)
    if component.max_replicas:
        annotations[MAX_SCALE] = str(component.max_replicas)
    spec = dict(pod.spec)
    if component.container_concurrency is not None:
        spec["containerConcurrency"] = component.container_concurrency
    if component.timeout_seconds is not None:
        spec["timeoutSeconds"] = component.timeout_seconds
    metadata = {"labels": pod.labels, "annotations": dict(sorted(annotations.items()))}
    return {"metadata": metadata, "spec": spec}
