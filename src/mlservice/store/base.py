"""The `Store` seam: durable objects with Kubernetes semantics, and watch events.

Objects are plain JSON-shaped dicts keyed by (group, kind, namespace, name); a cluster-scoped
kind's objects have namespace "" (Kubernetes' `metav1.NamespaceNone`). The store owns the
server-set metadata: `uid`, `resourceVersion` (one counter across the whole store, a string on
the wire), `generation` (bumped when anything but metadata and status changes) and
`creationTimestamp`. Status is written separately (`update_status`), as Kubernetes' status
subresource does, so a spec update never clobbers what a controller reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from mlservice.errors import InvalidObject
from mlservice.resources import kinds

Obj = dict[str, Any]


@dataclass(frozen=True)
class Key:
    """Where one object lives."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Obj) -> Key:
        """The key of a manifest; its `metadata.namespace` must already be filled in, unless
        its kind is cluster-scoped (namespace "" then, and none may be set)."""
        metadata = obj.get("metadata") or {}
        name, namespace = metadata.get("name"), metadata.get("namespace")
        kind = str(obj.get("kind", ""))
        if not isinstance(name, str) or not name:
            raise InvalidObject("The object has no metadata.name.")
        info = kinds.by_kind(kind)
        if info is not None and not info.namespaced:
            if namespace not in (None, ""):
                raise InvalidObject(f"{kind} {name!r} is cluster-scoped but has a namespace.")
            namespace = ""
        elif not isinstance(namespace, str) or not namespace:
            raise InvalidObject(f"The object {name!r} has no metadata.namespace.")
        group, _, _ = str(obj.get("apiVersion", "")).rpartition("/")
        return cls(group=group, kind=kind, namespace=namespace, name=name)

    def __str__(self) -> str:
        if not self.namespace:  # cluster-scoped
            return f"{self.kind} {self.name}"
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Scope:
    """What a list or a watch covers: one kind, in one namespace or (None) in all of them."""

    group: str
    kind: str
    namespace: str | None = None

    def covers(self, key: Key) -> bool:
        return (
            key.group == self.group
            and key.kind == self.kind
            and (self.namespace is None or key.namespace == self.namespace)
        )


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    """One change; `body` is the object's JSON as stored, so streaming needs no re-encoding."""

    type: EventType
    resource_version: int
    key: Key
    body: str

    def object(self) -> Obj:
        parsed: Obj = json.loads(self.body)
        return parsed


@dataclass(frozen=True)
class ListResult:
    items: list[Obj]
    resource_version: int


class Subscription(Protocol):
    """A live feed of events; `get` returns None on timeout, both return None once closed."""

    @property
    def closed(self) -> bool: ...

    def get(self, timeout: float | None = None) -> WatchEvent | None: ...

    async def aget(self) -> WatchEvent | None: ...

    def close(self) -> None: ...


class Store(Protocol):
    def create(self, obj: Obj) -> Obj:
        """Store a new object; `AlreadyExists` if its name is taken."""
        ...

    def get(self, key: Key) -> Obj:
        """The object, or `NotFound`."""
        ...

    def list(self, scope: Scope) -> ListResult: ...

    def replace(self, obj: Obj) -> Obj:
        """Replace all but status; `Conflict` if `metadata.resourceVersion` is set and stale."""
        ...

    def update_status(self, obj: Obj) -> Obj:
        """Replace only `status`; same concurrency check; never bumps `generation`."""
        ...

    def delete(self, key: Key, *, resource_version: int | None = None) -> Obj: ...

    def watch(self, scope: Scope, *, since: int | None = None) -> Subscription:
        """Events after `since`; with None, first a synthetic ADDED for every current object.

        `Gone` when `since` is older than the kept history, `ResourceVersionTooLarge` when it
        is newer than the store's current version."""
        ...

    def resource_version(self) -> int: ...

    def close(self) -> None: ...


def iter_events(subscription: Subscription, *, timeout: float) -> Iterator[WatchEvent]:
    """Events until the subscription closes or `timeout` passes without one (for sync callers)."""
    while (event := subscription.get(timeout)) is not None:
        yield event
