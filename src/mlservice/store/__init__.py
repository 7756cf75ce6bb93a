"""store: durable objects with Kubernetes semantics (see docs/architecture.md)."""

from mlservice.store.base import (
    EventType,
    Key,
    ListResult,
    Obj,
    Scope,
    Store,
    Subscription,
    WatchEvent,
)

__all__ = [
    "EventType",
    "Key",
    "ListResult",
    "Obj",
    "Scope",
    "Store",
    "Subscription",
    "WatchEvent",
]
