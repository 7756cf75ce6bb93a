"""The admin channel's payloads: full snapshots and deltas, checked with pydantic at the edge.

The shapes and their constraints are the dataclasses of `gateway/snapshot.py` and
`gateway/delta.py`; the adapters here read and write them, once per push. A malformed push is
refused whole with a message naming the field, so the gateway keeps serving its last good
snapshot instead of half of a bad one.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from mlservice.errors import InvalidInput
from mlservice.gateway.delta import SnapshotDelta
from mlservice.gateway.snapshot import RoutingSnapshot

T = TypeVar("T")
# pydantic words an unknown field of a dataclass as a keyword argument; a push has no arguments.
_MESSAGES = {"unexpected_keyword_argument": "Extra inputs are not permitted"}

SNAPSHOT: TypeAdapter[RoutingSnapshot] = TypeAdapter(RoutingSnapshot)
DELTA: TypeAdapter[SnapshotDelta] = TypeAdapter(SnapshotDelta)


def parse_snapshot(body: bytes) -> RoutingSnapshot:
    return validate(SNAPSHOT, body, what="routing snapshot")


def parse_delta(body: bytes) -> SnapshotDelta:
    return validate(DELTA, body, what="routing delta")


def dump_snapshot(snapshot: RoutingSnapshot) -> bytes:
    return SNAPSHOT.dump_json(snapshot)


def dump_delta(delta: SnapshotDelta) -> bytes:
    return DELTA.dump_json(delta)


def validate(adapter: TypeAdapter[T], body: bytes, *, what: str) -> T:
    """`body` (JSON) as `adapter`'s type; InvalidInput naming the first bad field."""
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(body)"
        message = _MESSAGES.get(first["type"], first["msg"])
        raise InvalidInput(f"The {what} field {where} is invalid: {message}.") from None
