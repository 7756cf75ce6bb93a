"""`mls operator`: a kopf operator reconciling our kinds on a Kubernetes cluster.

The composition root (`cli/operator.py`) hands in the renderer and the status functions
(`Wiring`); this package watches, indexes, applies and writes status back.
"""

from mlservice.engine.kube.operator.observe import (
    Component,
    Ingress,
    Observation,
    Pods,
    Problem,
)
from mlservice.engine.kube.operator.run import run
from mlservice.engine.kube.operator.wiring import Mode, Render, Settings, StatusOf, Wiring

__all__ = [
    "Component",
    "Ingress",
    "Mode",
    "Observation",
    "Pods",
    "Problem",
    "Render",
    "Settings",
    "StatusOf",
    "Wiring",
    "run",
]
