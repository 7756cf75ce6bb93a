"""Start the operator: the current kubeconfig (or the pod's service account), kopf's loop."""

from __future__ import annotations

import kopf
import kubernetes

from mlservice.engine.kube.operator.api import Api
from mlservice.engine.kube.operator.handlers import build_registry
from mlservice.engine.kube.operator.wiring import Settings, Wiring


def run(*, wiring: Wiring, settings: Settings, verbose: bool = False) -> None:
    """Reconcile until SIGINT/SIGTERM (kopf handles both: it stops watching, then returns)."""
    load_credentials()
    registry = build_registry(api=Api(), wiring=wiring, settings=settings)
    kopf.configure(verbose=verbose)
    kopf.run(
        registry=registry,
        standalone=True,  # one replica: no peering objects to create, nothing to negotiate
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
    )


def load_credentials() -> None:
    """In a pod, its service account; elsewhere the kubeconfig (`$KUBECONFIG` or ~/.kube)."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
