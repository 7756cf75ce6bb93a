"""Rendering a replica from a runtime: Go templates, strategic merge patch, resources override,
`$(VAR)` expansion, and choosing the runtime for a model format. Pure functions over data.

`render_replica(service=, release=, runtime=)` is what the controller calls; `select_runtime`
picks the runtime first.
"""

from mlservice.runtime.expand import expand, expand_env
from mlservice.runtime.merge import POD_SPEC, strategic_merge
from mlservice.runtime.render import (
    pod_containers,
    render_pod,
    render_replica,
    render_transformer,
)
from mlservice.runtime.replica import (
    EnvVar,
    Port,
    Probe,
    RenderedContainer,
    RenderedReplica,
    Resources,
    VolumeMount,
)
from mlservice.runtime.select import BUILTIN_NAMESPACE, select_runtime
from mlservice.runtime.template import render

__all__ = [
    "BUILTIN_NAMESPACE",
    "POD_SPEC",
    "EnvVar",
    "Port",
    "Probe",
    "RenderedContainer",
    "RenderedReplica",
    "Resources",
    "VolumeMount",
    "expand",
    "expand_env",
    "pod_containers",
    "render",
    "render_pod",
    "render_replica",
    "render_transformer",
    "select_runtime",
    "strategic_merge",
]
