"""The children the operator has seen, by their controller's uid: what status is read from.

Kept by the operator itself rather than in kopf indices: kopf keys an index entry by the
object's namespace, name and uid and purges an entry when another resource's event comes
with the same key, so children of different kinds sharing a name (a Deployment, its Service
and its HPA) and no uid (an API emulator assigns none) would evict each other.

Knative's Revisions are not ours: their controller is the Configuration (or the Knative
Service's Configuration, named as the Service), so they are kept by that Configuration's
namespace and name (their `serving.knative.dev/configuration` label) and belong to whichever
parent owns it, whichever of the two was seen first.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from mlservice.engine.kube.operator.reconcile import owner_uid
from mlservice.engine.kube.operator.wiring import Body

Ref = tuple[str, str, str | None, str]  # apiVersion, kind, namespace, name
KNATIVE: Final = "serving.knative.dev/v1"
CONFIGURATION_LABEL: Final = "serving.knative.dev/configuration"
# The kinds that make revisions: a Configuration, and a Knative Service (through its own
# Configuration of the same name).
REVISION_MAKERS: Final = ("Configuration", "Service")


class Children:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, dict[Ref, Body]] = {}
        self._revisions: dict[tuple[str | None, str], dict[str, Body]] = {}

    def seen(self, child: Body, *, gone: bool) -> str | None:
        """Record (or forget) `child`; returns its parent's uid (known: None)."""
        meta: dict[str, Any] = dict(child.get("metadata") or {})
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        if child.get("apiVersion") == KNATIVE and child.get("kind") == "Revision":
            return self._revision(child, namespace, name, gone=gone)
        uid = owner_uid(child)
        ref = (str(child.get("apiVersion")), str(child.get("kind")), namespace, name)
        with self._lock:
            for owned in self._by_owner.values():
                owned.pop(ref, None)  # a child adopted by another parent leaves the first
            if uid and not gone:
                self._by_owner.setdefault(uid, {})[ref] = child
        return uid

    def of(self, uid: str) -> list[Body]:
        """The parent's children, and the revisions of its Configurations and Services."""
        with self._lock:
            owned = list(self._by_owner.get(uid, {}).items())
            revisions = [
                revision
                for (api, kind, namespace, name), _ in owned
                if api == KNATIVE and kind in REVISION_MAKERS
                for revision in self._revisions.get((namespace, name), {}).values()
            ]
        return [child for _, child in owned] + revisions

    def _revision(self, child: Body, namespace: str | None, name: str, *, gone: bool) -> str | None:
        labels = (child.get("metadata") or {}).get("labels") or {}
        maker = labels.get(CONFIGURATION_LABEL)
        if not maker:
            return None
        with self._lock:
            kept = self._revisions.setdefault((namespace, str(maker)), {})
            if gone:
                kept.pop(name, None)
            else:
                kept[name] = child
            return next(
                (
                    uid
                    for uid, owned in self._by_owner.items()
                    for kind in REVISION_MAKERS
                    if (KNATIVE, kind, namespace, str(maker)) in owned
                ),
                None,
            )
