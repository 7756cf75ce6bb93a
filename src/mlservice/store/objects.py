"""Pure rules for server-set metadata: what a create stamps, what a replace keeps and bumps."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlservice.errors import Conflict, InvalidObject
from mlservice.store.base import Key, Obj

# Set by the store alone; whatever a client sends for these is replaced.
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp")

# How an update turns (stored, requested) into the new object, or None for "no change".
Change = Callable[[Obj, Obj], "Obj | None"]

# The counter is an SQLite INTEGER: a version past int64 cannot even be compared in a query.
MAX_VERSION = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamped_new(obj: Obj, *, resource_version: int) -> Obj:
    """A copy of `obj` as first stored."""
    new = copy.deepcopy(obj)
    metadata = new.setdefault("metadata", {})
    metadata.update(
        uid=str(uuid.uuid4()),
        resourceVersion=str(resource_version),
        generation=1,
        creationTimestamp=now_rfc3339(),
    )
    return new


def version_number(raw: object) -> int | None:
    """`raw` as a resourceVersion: None when absent or "", else its number.

    Raises ValueError for anything this store cannot have issued: a sign, spaces, a fraction,
    or a number past int64 (Kubernetes parses them as unsigned 64-bit numbers)."""
    if raw is None or raw == "":
        return None
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not _DIGITS.fullmatch(text) or int(text) > MAX_VERSION:
        raise ValueError(f"{shown(raw)} is not a resourceVersion this server issued")
    return int(text)


def shown(raw: object, *, width: int = 40) -> str:
    """`repr(raw)`, cut short: error messages quote what a client sent, not all of it."""
    text = repr(raw) if not isinstance(raw, int) or raw.bit_length() <= 128 else "a huge number"
    return text if len(text) <= width else text[: width - 3] + "..."


def requested_version(obj: Obj) -> int | None:
    """The `metadata.resourceVersion` a write was based on, if the client sent one."""
    metadata = obj.get("metadata")
    raw = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    try:
        return version_number(raw)
    except ValueError as err:
        raise InvalidObject(f"metadata.resourceVersion {err}.") from None


def check_version(key: Key, *, stored: int, requested: int | None) -> None:
    """Optimistic concurrency: a write based on an older read is refused."""
    if requested is not None and requested != stored:
        raise Conflict(
            f"{key} was modified (resourceVersion {stored}, the request was based on "
            f"{requested}); read it again and retry."
        )


def replaced(current: Obj, incoming: Obj) -> Obj | None:
    """`incoming` with the server fields and status of `current`; None when nothing changes."""
    new = copy.deepcopy(incoming)
    metadata = new.setdefault("metadata", {})
    for field in SERVER_FIELDS:
        metadata.pop(field, None)
    current_meta = current["metadata"]
    metadata.update(
        uid=current_meta["uid"],
        creationTimestamp=current_meta["creationTimestamp"],
        generation=current_meta["generation"],
    )
    new.pop("status", None)
    if "status" in current:
        new["status"] = copy.deepcopy(current["status"])
    if _spec_part(new) != _spec_part(current):
        metadata["generation"] = int(current_meta["generation"]) + 1
    return None if _unversioned(new) == _unversioned(current) else new


def with_status(current: Obj, incoming: Obj) -> Obj | None:
    """`current` with the status of `incoming`; None when the status is unchanged."""
    if incoming.get("status") == current.get("status"):
        return None
    new = copy.deepcopy(current)
    if "status" in incoming:
        new["status"] = copy.deepcopy(incoming["status"])
    else:
        new.pop("status", None)
    return new


def set_version(obj: Obj, resource_version: int) -> Obj:
    obj["metadata"]["resourceVersion"] = str(resource_version)
    return obj


def _spec_part(obj: Obj) -> dict[str, Any]:
    """Everything a generation counts: all but metadata and status (a Secret's data counts)."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _unversioned(obj: Obj) -> Obj:
    metadata = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": metadata}
