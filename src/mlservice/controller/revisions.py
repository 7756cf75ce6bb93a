"""From a rendered pod to the `Plan` a track runs: the engine-neutral `Revision` and its hash.

The hash covers everything that makes the revision (the merged PodSpec with its references,
the pod's metadata, the model source, the programs it needs, the predictor a transformer
forwards to), so an unchanged spec renders to the same hash and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlservice.controller.track import Plan
from mlservice.engine import ModelSource, Revision, spec_hash
from mlservice.naming import ComponentKey, revision_labels
from mlservice.runtime import RenderedReplica


def plan_of(
    rendered: RenderedReplica,
    *,
    kind: str,
    namespace: str,
    service: str,
    component: ComponentKey,
    model: ModelSource | None = None,
    requires: Sequence[str] = (),
    predictor_host: str | None = None,
) -> Plan:
    pod_spec, annotations = dict(rendered.pod_spec), dict(rendered.annotations)
    hash_ = spec_hash(
        pod_spec, annotations, dict(rendered.labels), model, list(requires), predictor_host
    )

    def build(name: str) -> Revision:
        ours = revision_labels(
            kind=kind, service=service, key=component, revision=name, hash_=hash_
        )
        return Revision(
            namespace=namespace,
            name=name,
            kind=kind,
            service=service,
            key=component,
            pod_spec=pod_spec,
            hash=hash_,
            model=model,
            labels={**rendered.labels, **ours},
            annotations=annotations,
            predictor_host=predictor_host,
            requires=tuple(requires),
        )

    return Plan(hash_, build, annotations=annotations)
