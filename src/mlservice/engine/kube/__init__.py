"""Kubernetes objects from engine-neutral revisions: the kube engine's renderer (pure, plain
dicts, no API calls), our CustomResourceDefinitions and the install bundle.

`render_workloads` turns `Workload`s (a parent's revisions with their routing) into Knative or
standard Kubernetes objects. The step from manifests to workloads is the controllers'
(`mlservice.controller.offline.render`, which `mls kube render` and the operator call).
"""

from mlservice.engine.kube.render import (
    MODES,
    Mode,
    NotRenderable,
    RenderOptions,
    knative_features,
    render_workload,
    render_workloads,
)
from mlservice.engine.kube.workload import Component, LoggerArgs, Pinned, Split, Workload

__all__ = [
    "MODES",
    "Component",
    "LoggerArgs",
    "Mode",
    "NotRenderable",
    "Pinned",
    "RenderOptions",
    "Split",
    "Workload",
    "knative_features",
    "render_workload",
    "render_workloads",
]
