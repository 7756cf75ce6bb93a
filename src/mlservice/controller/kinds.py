"""Which kinds the controllers reconcile, and what each depends on: a registration per kind.

A new kind (KServe's InferenceService, say) is one more `Registration` in `KINDS`: its
reconciler factory, the kinds whose changes concern it, and nothing edited in the manager.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from mlservice.controller.context import Context
from mlservice.controller.inferenceservice import InferenceServiceReconciler
from mlservice.controller.mlservice import MLServiceReconciler
from mlservice.controller.routing import ServiceRoutes
from mlservice.controller.simple import SimpleMLServiceReconciler
from mlservice.controller.trainedmodel import TrainedModelReconciler
from mlservice.resources.kinds import GROUP, KSERVE_GROUP
from mlservice.store import Key

GroupKind = tuple[str, str]  # (API group, kind): "" is the core group


class Reconciler(Protocol):
    """Converges one kind's objects; its routes feed the gateway's snapshot."""

    @property
    def routes(self) -> Mapping[Key, ServiceRoutes]:
        """The gateway routes of each object it converged."""
        ...

    async def reconcile(self, key: Key) -> float | None:
        """One pass over the object; seconds after which to try again, if a retry may help."""
        ...

    def keys(self) -> list[Key]: ...


@dataclass(frozen=True)
class Registration:
    group: str
    kind: str
    make: Callable[[Context], Reconciler]
    depends_on: tuple[GroupKind, ...] = ()
    """Kinds whose changes re-enqueue this kind's objects of the same namespace (a change
    in the built-in runtimes' namespace concerns every object)."""


_POD_INPUTS: tuple[GroupKind, ...] = (("", "Secret"), ("", "PersistentVolumeClaim"))
# KServe's credential builder reads the predictor's ServiceAccount for storage Secrets.
_KSERVE_POD_INPUTS: tuple[GroupKind, ...] = (*_POD_INPUTS, ("", "ServiceAccount"))

KINDS: tuple[Registration, ...] = (
    Registration(
        GROUP, "MLService", MLServiceReconciler, ((GROUP, "MLServiceRuntime"), *_POD_INPUTS)
    ),
    Registration(GROUP, "SimpleMLService", SimpleMLServiceReconciler, _POD_INPUTS),
    Registration(
        KSERVE_GROUP,
        "InferenceService",
        InferenceServiceReconciler,
        (
            (KSERVE_GROUP, "ServingRuntime"),
            (KSERVE_GROUP, "ClusterServingRuntime"),
            *_KSERVE_POD_INPUTS,
        ),
    ),
    # Its parent's changes do not wake it (a reconciled kind's events go to its own
    # reconciler): it checks again while the InferenceService is not ready.
    Registration(KSERVE_GROUP, "TrainedModel", TrainedModelReconciler),
)
