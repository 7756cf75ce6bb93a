"""The kopf registry: which kinds are watched, indexed and reconciled, for one mode.

Parents (MLService, SimpleMLService; InferenceService with the KServe kinds) are reconciled on
create, update and resume. Runtimes are indexed by namespace and name; a runtime's change
(created, updated, deleted) reconciles every parent its namespace can see (a built-in
namespace's runtimes serve every namespace): the children hash tells which ones really change.
Children are kept by their controller's uid (`children.py` says why not in a kopf index), and
any event on one rewrites its parent's status; a child deleted while its parent lives is
written again. In knative mode Knative's Revisions are watched too (their pods are the
releases' replicas); they are Knative's to delete. What is watched per mode is
`engine/kube/access.py`'s, which `mls kube install`'s ClusterRole is made from. No handler
runs on deletion, so kopf adds no finalizer: ownership lets the cluster's garbage collector
remove the children.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import kopf

from mlservice.engine.kube.access import (
    CHILDREN,
    KSERVE_PARENTS,
    KSERVE_RUNTIMES,
    OBSERVED,
    PARENTS,
    RUNTIMES,
    Resource,
)
from mlservice.engine.kube.operator.api import Api
from mlservice.engine.kube.operator.children import Children
from mlservice.engine.kube.operator.reconcile import Indices, Reconciler, flatten
from mlservice.engine.kube.operator.wiring import Body, Settings, Wiring
from mlservice.naming import LABEL_PREFIX, SERVICE_LABEL
from mlservice.runtime.select import BUILTIN_NAMESPACE

# kopf keeps its progress and last-handled spec in annotations, not in `status.kopf`: our
# CRDs' status schema is ours, and an annotation is accepted by every kind.
STATE_PREFIX: Final = LABEL_PREFIX.rstrip("/")


@dataclass(frozen=True)
class Kinds:
    parents: tuple[Resource, ...]
    runtimes: tuple[Resource, ...]
    children: tuple[Resource, ...]

    @classmethod
    def of(cls, settings: Settings) -> Kinds:
        kserve = settings.kserve_kinds
        return cls(
            parents=PARENTS + (KSERVE_PARENTS if kserve else ()),
            runtimes=RUNTIMES + (KSERVE_RUNTIMES if kserve else ()),
            children=CHILDREN[settings.mode] + OBSERVED[settings.mode],
        )

    def runtimes_for(self, parent: Body, indices: Indices) -> list[Body]:
        """The runtimes the parent may select: its namespace's, the built-in namespace's and
        the cluster-scoped ones (the renderer's selection orders them)."""
        seen = (parent["metadata"].get("namespace"), BUILTIN_NAMESPACE, None)
        return flatten(
            indices[_id("runtimes", r)].get(ns, ()) for r in self.runtimes for ns in seen
        )

    def every_parent(self, indices: Indices) -> list[Body]:
        return flatten(store for r in self.parents for store in indices[_id("parents", r)].values())


def build_registry(*, api: Api, wiring: Wiring, settings: Settings) -> kopf.OperatorRegistry:
    kinds = Kinds.of(settings)
    children = Children()
    reconciler = Reconciler(
        api=api,
        wiring=wiring,
        children_of=lambda parent, _: children.of(str(parent["metadata"].get("uid") or "")),
        runtimes_for=kinds.runtimes_for,
    )
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(_configure)

    def on_parent(body: kopf.Body, **indices: Any) -> None:
        reconciler.reconcile(body, indices)

    def on_runtime(body: kopf.Body, type: str | None, **indices: Any) -> None:
        if type is None:
            return  # the initial listing: parents reconcile themselves on resume
        namespace = body.metadata.namespace
        for parent in kinds.every_parent(indices):
            if namespace in (None, BUILTIN_NAMESPACE, parent["metadata"].get("namespace")):
                reconciler.reconcile(parent, indices)

    def on_child(body: kopf.Body, type: str | None, **indices: Any) -> None:
        gone = type == "DELETED"
        uid = children.seen(dict(body), gone=gone)
        ours = body.get("kind") != "Revision"  # Knative's: it deletes old revisions itself
        for r in kinds.parents:
            for parent in indices[_id("parents", r)].get(uid, ()):
                if gone and ours:
                    reconciler.repair(parent, indices)  # deleted by hand: put it back
                else:
                    reconciler.refresh(parent, indices)

    for r in kinds.parents:
        _index(registry, r, role="parents", fn=_by_uid)
        for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
            on(r.group, r.version, r.plural, id=f"reconcile.{r.key}", registry=registry)(on_parent)
    for r in kinds.runtimes:
        _index(registry, r, role="runtimes", fn=_by_namespace)
        kopf.on.event(r.group, r.version, r.plural, id=f"rollout.{r.key}", registry=registry)(
            on_runtime
        )
    owned = {SERVICE_LABEL: kopf.PRESENT}
    for r in kinds.children:
        kopf.on.event(
            r.group, r.version, r.plural, id=f"status.{r.key}", labels=owned, registry=registry
        )(on_child)
    return registry


def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=STATE_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=STATE_PREFIX, key="last-handled-configuration"
    )


def _id(role: str, r: Resource) -> str:
    return f"{role}.{r.key}"


def _index(
    registry: kopf.OperatorRegistry, r: Resource, *, role: str, fn: Callable[..., Any]
) -> None:
    kopf.index(r.group, r.version, r.plural, id=_id(role, r), registry=registry)(fn)


def _by_uid(body: kopf.Body, **_: Any) -> dict[Any, Body] | None:
    uid = body.metadata.uid
    return {uid: dict(body)} if uid else None


def _by_namespace(body: kopf.Body, **_: Any) -> dict[Any, Body]:
    return {body.metadata.namespace: dict(body)}
