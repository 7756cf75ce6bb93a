"""The children the operator has seen, by their controller's uid: what status is read from.

Kept by the operator itself rather than in kopf indices: kopf keys an index entry by the
object's namespace, name and uid and purges an entry when another resource's event comes
with the same key, so children of different kinds sharing a name (a Deployment, its Service
and its HPA) and no uid (an API emulator assigns none) would evict each other.
"""

from __future__ import annotations

import threading
from typing import Any

from mlservice.engine.kube.operator.reconcile import owner_uid
from mlservice.engine.kube.operator.wiring import Body

Ref = tuple[str, str, str | None, str]  # apiVersion, kind, namespace, name


class Children:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, dict[Ref, Body]] = {}

    def seen(self, child: Body, *, gone: bool) -> str | None:
        """Record (or forget) `child`; returns its owner's uid."""
        uid = owner_uid(child)
        meta: dict[str, Any] = dict(child.get("metadata") or {})
        ref = (
            str(child.get("apiVersion")),
            str(child.get("kind")),
            meta.get("namespace"),
            str(meta.get("name")),
        )
        with self._lock:
            for owned in self._by_owner.values():
                owned.pop(ref, None)  # a child adopted by another parent leaves the first
            if uid and not gone:
                self._by_owner.setdefault(uid, {})[ref] = child
        return uid

    def of(self, uid: str) -> list[Body]:
        with self._lock:
            return list(self._by_owner.get(uid, {}).values())
