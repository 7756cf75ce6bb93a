"""`Event` (core `v1`): what the controllers record about an object, shown by `mls describe`.

The controllers write events straight to the store; the API serves them read-mostly at
`/api/v1/namespaces/{ns}/events`, in the shape `kubectl get events` reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mlservice.resources._base import Model
from mlservice.resources.meta import Envelope


class ObjectReference(Model):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class EventSource(Model):
    component: str | None = None
    host: str | None = None


class Event(Envelope):
    involved_object: ObjectReference
    reason: str | None = None
    message: str | None = None
    type: Literal["Normal", "Warning"] | None = None
    count: int | None = Field(default=None, ge=1, le=2**31 - 1)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    source: EventSource | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None
    action: str | None = None
    related: dict[str, Any] | None = None
