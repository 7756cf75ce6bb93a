"""Recording what the controllers did, as core `v1` Events in the store (`mls describe`).

Events with the same object, reason and message fold into one whose `count` and
`lastTimestamp` move, as the kubelet's do. Recording never fails a reconcile: a store error
is logged and the event dropped. Messages are the controllers' own sentences; no Secret value
ever reaches one (storage errors name URIs, never credentials).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mlservice.errors import MLServiceError, NotFound
from mlservice.store import Key, Obj, Scope, Store

log = logging.getLogger(__name__)
MAX_MESSAGE = 1024  # what Kubernetes keeps of an event message
COMPONENT = "mls-controller"
EventKind = Literal["Normal", "Warning"]
CLUSTER_EVENTS_NAMESPACE = "default"


@dataclass(frozen=True)
class Involved:
    """The object an event is about; a cluster-scoped one has namespace "" and its events
    live in `default`, as Kubernetes records them."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""

    @classmethod
    def of(cls, obj: Obj) -> Involved:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or ""
        return cls(obj["apiVersion"], obj["kind"], namespace, meta["name"], meta.get("uid", ""))

    @property
    def event_namespace(self) -> str:
        return self.namespace or CLUSTER_EVENTS_NAMESPACE

    def reference(self) -> dict[str, str]:
        ref = {"apiVersion": self.api_version, "kind": self.kind}
        if self.namespace:
            ref["namespace"] = self.namespace
        ref["name"] = self.name
        return {**ref, "uid": self.uid} if self.uid else ref


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EventRecorder:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._store = store
        self._clock = clock
        self._names: dict[tuple[str, str, str, str, str], str] = {}

    def normal(self, involved: Involved, reason: str, message: str) -> None:
        self.record(involved, reason=reason, message=message, kind="Normal")

    def warning(self, involved: Involved, reason: str, message: str) -> None:
        self.record(involved, reason=reason, message=message, kind="Warning")

    def record(self, involved: Involved, *, reason: str, message: str, kind: EventKind) -> None:
        message = message[:MAX_MESSAGE]
        fold = (involved.event_namespace, involved.kind, involved.name, reason, message)
        now = self._clock()
        try:
            name = self._names.get(fold)
            if name is None or not self._bump(involved.event_namespace, name, now):
                self._names[fold] = self._create(involved, reason, message, kind, now)
        except MLServiceError as err:
            log.warning("could not record event %s for %s: %s", reason, involved.name, err)

    def forget(self, involved: Involved) -> None:
        """Delete the events of an object that is gone."""
        self._names = {k: v for k, v in self._names.items() if k[:3] != _who(involved)}
        for event in self.events_of(involved):
            with contextlib.suppress(NotFound):
                self._store.delete(Key.of(event))

    def events_of(self, involved: Involved) -> list[Obj]:
        found = self._store.list(Scope("", "Event", involved.event_namespace)).items
        return [e for e in found if _about(e, involved)]

    def _create(
        self, involved: Involved, reason: str, message: str, kind: EventKind, now: datetime
    ) -> str:
        name = f"{involved.name}.{secrets.token_hex(8)}"
        stamp = _seconds(now)
        self._store.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": involved.event_namespace},
                "involvedObject": involved.reference(),
                "reason": reason,
                "message": message,
                "type": kind,
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "eventTime": _micro(now),
                "source": {"component": COMPONENT},
                "reportingComponent": COMPONENT,
            }
        )
        return name

    def _bump(self, namespace: str, name: str, now: datetime) -> bool:
        try:
            event = self._store.get(Key("", "Event", namespace, name))
        except NotFound:
            return False
        event["count"] = int(event.get("count", 1)) + 1
        event["lastTimestamp"] = _seconds(now)
        event["eventTime"] = _micro(now)
        self._store.replace(event)
        return True


def _who(involved: Involved) -> tuple[str, str, str]:
    return (involved.event_namespace, involved.kind, involved.name)


def _about(event: Obj, involved: Involved) -> bool:
    ref: dict[str, Any] = event.get("involvedObject") or {}
    return (ref.get("kind"), ref.get("name")) == (involved.kind, involved.name)


def _seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
