"""Names of the objects a workload becomes; hosts follow from them (`naming.py` for ours)."""

from __future__ import annotations

from mlservice.engine.kube.workload import Split, Workload
from mlservice.naming import predictor_label, release_label, transformer_label


def release_object(workload: Workload, split: Split) -> str:
    """A predictor release's Configuration or Deployment/Service: `{name}-predict-{release}`
    (Knative names its revisions `{configuration}-{NNNNN}`, so they keep our names);
    KServe's `{name}-predictor`; a SimpleMLService's own name."""
    if workload.kind == "SimpleMLService":
        return workload.name
    if workload.kind == "InferenceService" or not split.release:
        return predictor_label(workload.name)
    return release_label(workload.name, split.release)


def transformer_object(workload: Workload) -> str:
    """The transformer's Deployment/Service in standard mode."""
    return transformer_label(workload.name)


def route_name(workload: Workload) -> str:
    """The Knative Route (and standard mode's split HTTPRoute) of the predictors: the
    service's own host `{name}` unless a transformer takes that, then `{name}-predictor`."""
    return predictor_label(workload.name) if workload.transformer else workload.name
