"""The API's wire contract as seen from a client: paths, watch lines, Status -> typed errors.

The client side of `api/`'s contract, kept here so the SDK and the CLI never import the API
package (nor FastAPI); `api/` writes the same paths and Status objects from its own code.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mlservice.errors import (
    AlreadyExists,
    Conflict,
    FieldCause,
    Gone,
    InvalidInput,
    InvalidObject,
    MLServiceError,
    NotFound,
    Unauthorized,
    Unavailable,
)
from mlservice.resources import kinds
from mlservice.resources.kinds import KindInfo

Obj = dict[str, Any]


class ApiError(MLServiceError):
    """A failure status the error tree has no class for; `status_code` is the one received."""

    def __init__(self, message: str, *, status_code: int, reason: str = "Unknown") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason


_BY_STATUS: dict[int, type[MLServiceError]] = {
    400: InvalidInput,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    410: Gone,
    503: Unavailable,
}


def resolve_kind(kind: str | KindInfo) -> KindInfo:
    """A kind from what a user typed: plural, singular, short name or Kind."""
    if isinstance(kind, KindInfo):
        return kind
    found = kinds.by_name(kind)
    if found is None:
        names = ", ".join(k.singular for k in kinds.KINDS)
        raise InvalidInput(f"Unknown kind {kind!r}; use one of {names}.")
    return found


def kind_of(obj: Any) -> KindInfo:
    """The kind a manifest declares, or InvalidObject naming `kind`."""
    found = kinds.by_kind(obj.get("kind", "")) if isinstance(obj, dict) else None
    if found is None:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        raise InvalidObject(
            f"Cannot handle an object of kind {kind!r}.",
            [FieldCause("kind", f"must be one of {', '.join(k.kind for k in kinds.KINDS)}")],
        )
    return found


def path_for(
    kind: KindInfo, namespace: str | None, *, name: str | None = None, status: bool = False
) -> str:
    """The path of an object, of a namespace's collection, or (namespace None) of all of them;
    a cluster-scoped kind has no namespace in its paths, whatever `namespace` says."""
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if not kind.namespaced:
        path = f"{prefix}/{kind.plural}"
    elif namespace is None:
        return f"{prefix}/{kind.plural}"
    else:
        path = f"{prefix}/namespaces/{namespace}/{kind.plural}"
    if name is not None:
        path += f"/{name}" + ("/status" if status else "")
    return path


def error_from(status_code: int, body: Any, *, fallback: str = "") -> MLServiceError:
    """The typed error for a failure: a Kubernetes Status body, or a data plane `{"error"}`."""
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or body.get("error") or fallback or f"HTTP {status_code}")
    if status_code == 422:
        causes = (body.get("details") or {}).get("causes") or []
        return InvalidObject(message, [_cause(c) for c in causes if isinstance(c, dict)])
    if status_code == 409 and body.get("reason") == "AlreadyExists":
        return AlreadyExists(message)
    cls = _BY_STATUS.get(status_code)
    if cls is not None:
        return cls(message)
    return ApiError(message, status_code=status_code, reason=str(body.get("reason", "Unknown")))


def _cause(raw: dict[str, Any]) -> FieldCause:
    return FieldCause(
        str(raw.get("field", "")),
        str(raw.get("message", "")),
        str(raw.get("reason", "FieldValueInvalid")),
    )


def watch_params(
    *, name: str | None = None, resource_version: str | None = None, timeout: float | None = None
) -> dict[str, str]:
    params = {"watch": "true"}
    if name:
        params["fieldSelector"] = f"metadata.name={name}"
    if resource_version:
        params["resourceVersion"] = resource_version
    if timeout is not None:
        params["timeoutSeconds"] = str(max(1, math.ceil(timeout)))
    return params


def parse_event(line: str) -> Obj | None:
    """One watch line as `{"type", "object"}`; None for a blank line; ERROR events raise."""
    if not line.strip():
        return None
    event: Obj = json.loads(line)
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise error_from(int(status.get("code", 500)), status)
    return event
