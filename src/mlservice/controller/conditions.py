"""Status conditions, Kubernetes style: `lastTransitionTime` moves only when `status` flips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_MESSAGE = 4096  # a crash message quotes log lines; keep one condition readable


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str = ""
    message: str = ""


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions_json(
    conditions: Sequence[Condition], previous: Sequence[Mapping[str, Any]] | None, *, now: str
) -> list[dict[str, Any]]:
    """The wire form of `conditions`; each keeps the previous `lastTransitionTime` of its type
    unless its status changed."""
    before = {c.get("type"): c for c in previous or () if isinstance(c, Mapping)}
    out = []
    for condition in conditions:
        status = "True" if condition.status else "False"
        old = before.get(condition.type)
        unchanged = old is not None and old.get("status") == status
        since = old.get("lastTransitionTime") if unchanged and old is not None else None
        item: dict[str, Any] = {"type": condition.type, "status": status}
        if condition.reason:
            item["reason"] = condition.reason
        if condition.message:
            item["message"] = condition.message[:MAX_MESSAGE]
        item["lastTransitionTime"] = since or now
        out.append(item)
    return out
