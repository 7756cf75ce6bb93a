"""What each verb does to objects, independent of HTTP: admission, then the store.

Admission mirrors the Kubernetes API server: the path decides kind, namespace and name (a body
that disagrees is refused), manifests are validated and defaulted, status is only written
through the status subresource, and patches are applied to a fresh read and retried on a lost
race unless the client pinned a resourceVersion. Unknown fields are refused, or dropped (with a
warning or without) as `fieldValidation` asks.
"""

from __future__ import annotations

import copy
import secrets
import string
from dataclasses import dataclass
from typing import Any

from mlservice.api.field_validation import FieldValidation, unknown_field_warning
from mlservice.api.patch import Patcher
from mlservice.api.selectors import Predicate
from mlservice.errors import Conflict, FieldCause, InvalidInput, InvalidObject
from mlservice.home import Home
from mlservice.resources import MODELS, validate_object
from mlservice.resources.kinds import KindInfo
from mlservice.resources.limits import integer_causes
from mlservice.resources.validation import drop_unknown_fields
from mlservice.store import Key, ListResult, Obj, Scope, Store
from mlservice.store.objects import shown, version_number

_PATCH_ATTEMPTS = 5
_SUFFIX_CHARS = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Target:
    """The object (or collection, with no name) a request's path addresses. A namespace of
    None is every namespace; a cluster-scoped kind's objects live in namespace ""."""

    kind: KindInfo
    namespace: str | None
    name: str | None = None

    @classmethod
    def cluster(cls, kind: KindInfo, name: str | None = None) -> Target:
        return cls(kind, "", name)

    @property
    def key(self) -> Key:
        assert self.namespace is not None, "an object path always has a namespace"
        assert self.name is not None, "an object path always has a name"
        return Key(self.kind.group, self.kind.kind, self.namespace, self.name)

    @property
    def scope(self) -> Scope:
        return Scope(self.kind.group, self.kind.kind, self.namespace)


class Objects:
    """The verbs; synchronous (run them off the event loop)."""

    def __init__(self, store: Store, home: Home) -> None:
        self.store = store
        self.home = home

    def get(self, target: Target) -> Obj:
        return self.store.get(target.key)

    def list(self, target: Target, matches: Predicate | None = None) -> ListResult:
        found = self.store.list(target.scope)
        if matches is None:
            return found
        return ListResult([o for o in found.items if matches(o)], found.resource_version)

    def create(
        self, target: Target, body: Any, *, fields: FieldValidation = FieldValidation.STRICT
    ) -> Written:
        obj = _conform(target, body, creating=True)
        obj.pop("status", None)
        admitted, warnings = self._admit(obj, fields)
        if target.kind.kind == "PersistentVolumeClaim":
            from mlservice.storage import create_volume

            # The volume exists as soon as the claim does: `pvc://NAME/` resolves right away.
            create_volume(self.home, admitted["metadata"]["name"], exist_ok=True)
            admitted["status"] = {"phase": "Bound"}
        return Written(self.store.create(admitted), warnings)

    def replace(
        self, target: Target, body: Any, *, fields: FieldValidation = FieldValidation.STRICT
    ) -> Written:
        admitted, warnings = self._admit(_conform(target, body), fields)
        return Written(self.store.replace(admitted), warnings)

    def replace_status(self, target: Target, body: Any) -> Obj:
        return self.store.update_status(_status_checked(_conform(target, body)))

    def patch(
        self,
        target: Target,
        patch: Any,
        *,
        patcher: Patcher,
        status: bool = False,
        fields: FieldValidation = FieldValidation.STRICT,
    ) -> Written:
        """`patch` applied by `patcher` (one of `api.patch`'s) to the stored object."""
        pinned = _pins_version(patch)
        for attempt in range(_PATCH_ATTEMPTS):
            current = self.store.get(target.key)
            patched = _conform(target, patcher(current, patch))
            # Without a pinned version, base the write on what was read so a race is noticed.
            patched["metadata"].setdefault(
                "resourceVersion", current["metadata"]["resourceVersion"]
            )
            try:
                if status:
                    return Written(self.store.update_status(_status_checked(patched)))
                admitted, warnings = self._admit(patched, fields)
                return Written(self.store.replace(admitted), warnings)
            except Conflict:
                if pinned or attempt == _PATCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def delete(self, target: Target, options: Any = None) -> Obj:
        if options is not None and not isinstance(options, dict):
            raise InvalidInput("DeleteOptions must be a JSON object.")
        preconditions = (options or {}).get("preconditions")
        if preconditions is not None and not isinstance(preconditions, dict):
            raise InvalidInput("DeleteOptions preconditions must be a JSON object.")
        precondition = (preconditions or {}).get("resourceVersion")
        try:
            version = version_number(precondition)
        except ValueError as err:
            raise InvalidInput(f"preconditions.resourceVersion {err}.") from None
        return self.store.delete(target.key, resource_version=version)

    def _admit(self, obj: Obj, fields: FieldValidation) -> tuple[Obj, tuple[str, ...]]:
        """Validate and default; server-set metadata and status pass through untouched. With
        `fields` Ignore or Warn, unknown fields are dropped first (Warn: a warning each)."""
        metadata = obj.get("metadata") or {}
        kept = {k: metadata[k] for k in ("resourceVersion", "uid") if k in metadata}
        warnings: tuple[str, ...] = ()
        model = MODELS.get(str(obj.get("kind")))
        if fields is not FieldValidation.STRICT and model is not None:
            obj, dropped = drop_unknown_fields(obj, model)
            if fields is FieldValidation.WARN:
                warnings = tuple(unknown_field_warning(cause) for cause in dropped)
        admitted = validate_object(obj)
        admitted.setdefault("metadata", {}).update(kept)
        return admitted, warnings


@dataclass(frozen=True)
class Written:
    """What a write stored, and the warnings it earned (Kubernetes' `Warning` headers)."""

    obj: Obj
    warnings: tuple[str, ...] = ()


def _pins_version(patch: Any) -> bool:
    """Whether a patch names the resourceVersion it was made against: a merge patch's
    `metadata.resourceVersion`, or a JSON patch that tests or sets it."""
    if isinstance(patch, dict):
        metadata = patch.get("metadata")
        return isinstance(metadata, dict) and metadata.get("resourceVersion") is not None
    if isinstance(patch, list):
        return any(
            isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" for op in patch
        )
    return False


def _conform(target: Target, body: Any, *, creating: bool = False) -> Obj:
    """A copy of `body` whose kind, namespace and name agree with the path, or InvalidInput."""
    if not isinstance(body, dict):
        raise InvalidInput(f"The request body for {target.kind.kind} must be a JSON object.")
    obj = copy.deepcopy(body)
    kind = target.kind
    obj.setdefault("apiVersion", kind.api_version)
    obj.setdefault("kind", kind.kind)
    if obj["kind"] != kind.kind or obj["apiVersion"] != kind.api_version:
        raise InvalidInput(
            f"The body is {obj['kind']} {obj['apiVersion']} but the path is for "
            f"{kind.kind} {kind.api_version}."
        )
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = obj["metadata"] = {}
    if not isinstance(metadata, dict):
        raise InvalidObject(
            "metadata must be an object.", causes=[FieldCause("metadata", "must be an object")]
        )
    if kind.namespaced:
        _conform_field(metadata, "namespace", from_path=target.namespace)
    else:
        # Kubernetes clears the namespace of a cluster-scoped object rather than refuse it.
        metadata.pop("namespace", None)
    if creating and not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = _generated_name(str(metadata["generateName"]))
    _conform_field(metadata, "name", from_path=target.name)
    if not metadata.get("name"):
        raise InvalidObject(
            f"The {kind.kind} has no metadata.name.",
            causes=[
                FieldCause(
                    "metadata.name", "name or generateName is required", "FieldValueRequired"
                )
            ],
        )
    return obj


def _conform_field(metadata: dict[str, Any], field: str, *, from_path: str | None) -> None:
    sent = metadata.get(field)
    if from_path is None:
        return
    if sent in (None, ""):
        metadata[field] = from_path
    elif sent != from_path:
        raise InvalidInput(
            f"metadata.{field} {shown(sent)} in the body does not match {from_path!r} in the URL."
        )


def _generated_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))


def _status_checked(obj: Obj) -> Obj:
    """Status is not validated by kind (controllers own its shape), but it is an object and
    its numbers fit the types every reader has."""
    status = obj.get("status")
    if status is not None and not isinstance(status, dict):
        raise InvalidObject(
            "status must be an object.", causes=[FieldCause("status", "must be an object")]
        )
    causes = integer_causes(status, path="status")
    if causes:
        detail = "; ".join(f"{c.field}: {c.message}" for c in causes)
        raise InvalidObject(f"The status is invalid: {detail}.", causes=causes)
    return obj
