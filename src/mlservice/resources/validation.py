"""Turning a manifest into a typed model, or into one InvalidObject naming every bad field."""

from __future__ import annotations

import copy
import difflib
import types
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mlservice.errors import FieldCause, InvalidObject
from mlservice.resources import kinds
from mlservice.resources._base import Model
from mlservice.resources.event import Event
from mlservice.resources.inferenceservice import InferenceService
from mlservice.resources.limits import integer_causes
from mlservice.resources.meta import Envelope
from mlservice.resources.mlservice import MLService
from mlservice.resources.mlserviceruntime import MLServiceRuntime
from mlservice.resources.pvc import PersistentVolumeClaim
from mlservice.resources.secret import Secret
from mlservice.resources.serviceaccount import ServiceAccount
from mlservice.resources.servingruntime import ClusterServingRuntime, ServingRuntime
from mlservice.resources.simplemlservice import SimpleMLService
from mlservice.resources.trainedmodel import TrainedModel

Resource = (
    MLService
    | SimpleMLService
    | MLServiceRuntime
    | Secret
    | PersistentVolumeClaim
    | ServiceAccount
    | Event
    | InferenceService
    | ServingRuntime
    | ClusterServingRuntime
    | TrainedModel
)
R = TypeVar("R", bound=Envelope)

MODELS: dict[str, type[Envelope]] = {
    "MLService": MLService,
    "SimpleMLService": SimpleMLService,
    "MLServiceRuntime": MLServiceRuntime,
    "Secret": Secret,
    "PersistentVolumeClaim": PersistentVolumeClaim,
    "ServiceAccount": ServiceAccount,
    "Event": Event,
    "InferenceService": InferenceService,
    "ServingRuntime": ServingRuntime,
    "ClusterServingRuntime": ClusterServingRuntime,
    "TrainedModel": TrainedModel,
}


def validate_object(obj: dict[str, Any]) -> dict[str, Any]:
    """Validate a manifest of any kind in `kinds.KINDS`; return it with defaults applied.

    Raises InvalidObject whose causes name each bad field by its Kubernetes path
    (`spec.releases[0].name`, `data[.s3cfg]`).
    """
    return parse(obj).to_wire()


def parse(obj: Any) -> Envelope:
    """The typed model of a manifest of any supported kind (see `parse_as` for one kind)."""
    return _parse(obj, _model_for(obj))


def parse_as(cls: type[R], obj: Any) -> R:
    """The typed model of a manifest that must be of kind `cls`."""
    return _parse(obj, cls)


def _model_for(obj: Any) -> type[Envelope]:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return MODELS.get(kind, Envelope) if isinstance(kind, str) else Envelope


def _parse(obj: Any, cls: type[R]) -> R:
    if not isinstance(obj, dict):
        raise InvalidObject(
            f"A manifest must be a mapping, got {type(obj).__name__}.",
            [FieldCause("", "manifest is not a mapping", "FieldValueTypeInvalid")],
        )
    causes = _envelope_problems(obj, cls)
    if cls is Envelope:  # unknown kind: nothing more can be checked
        raise _invalid(obj, causes)
    causes += unknown_fields(obj, cls)
    oversized = integer_causes(obj)
    try:
        model = cls.model_validate(obj)
    except ValidationError as err:
        typed = _from_pydantic(err, cls, known=causes)
        # A typed field's own bound ("less than or equal to 1000") says more than the int64 one.
        reported = {c.field for c in typed}
        causes += typed + [c for c in oversized if c.field not in reported]
        raise _invalid(obj, causes) from None
    causes += oversized
    causes += model.problems()
    if causes:
        raise _invalid(obj, causes)
    return model


def _envelope_problems(obj: dict[str, Any], cls: type[Envelope]) -> list[FieldCause]:
    kind = obj.get("kind")
    if kind is None:
        return [FieldCause("kind", "kind is required", "FieldValueRequired")]
    info = kinds.by_kind(kind) if isinstance(kind, str) else None
    if info is None:
        names = [k.kind for k in kinds.KINDS]
        return [FieldCause("kind", f"kind {kind!r} is not supported{_hint(str(kind), names)}")]
    if cls is not Envelope and cls is not MODELS[info.kind]:
        want = next(k for k, v in MODELS.items() if v is cls)
        return [FieldCause("kind", f'kind "{kind}" is not {want}')]
    api_version = obj.get("apiVersion")
    if api_version != info.api_version:
        return [
            FieldCause(
                "apiVersion",
                f'{info.kind} needs apiVersion "{info.api_version}", got {api_version!r}',
            )
        ]
    return []


def _invalid(obj: dict[str, Any], causes: list[FieldCause]) -> InvalidObject:
    raw_kind = obj.get("kind")
    kind = raw_kind if isinstance(raw_kind, str) else "object"
    raw = obj.get("metadata")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    named = meta.get("name") if isinstance(meta.get("name"), str) else None
    info = kinds.by_kind(kind)
    if named and info is not None and not info.namespaced:
        name = f'"{named}"'
    else:
        name = f'"{meta.get("namespace") or "default"}/{named}"' if named else "(unnamed)"
    detail = "; ".join(f"{c.field}: {c.message}" for c in causes)
    end = "" if detail.endswith((".", "?")) else "."
    return InvalidObject(f"{kind} {name} is invalid: {detail}{end}", causes)


# --- unknown fields -------------------------------------------------------------------------


def unknown_fields(data: Any, tp: Any, path: str = "") -> Iterator[FieldCause]:
    """Every key in `data` that type `tp` neither declares nor lists as passthrough."""
    for _, _, cause in _unknown(data, tp, path):
        yield cause


def drop_unknown_fields(
    obj: dict[str, Any], cls: type[Model]
) -> tuple[dict[str, Any], list[FieldCause]]:
    """A copy of `obj` without the keys `cls` does not know (what `fieldValidation=Ignore|Warn`
    prunes), and a cause naming each."""
    pruned = copy.deepcopy(obj)
    found = list(_unknown(pruned, cls, ""))
    for holder, key, _ in found:
        holder.pop(key, None)
    return pruned, [cause for _, _, cause in found]


def _unknown(data: Any, tp: Any, path: str) -> Iterator[tuple[dict[str, Any], str, FieldCause]]:
    """Each unknown key with the mapping that holds it."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, Model) and isinstance(data, dict):
        fields = wire_fields(tp)
        known = [*fields, *getattr(tp, "passthrough", ())]
        for key, value in data.items():
            if key in fields:
                yield from _unknown(value, fields[key], _join(path, key))
            elif key not in known:
                message = f'unknown field "{key}"{_hint(str(key), known)}'
                yield data, key, FieldCause(_join(path, str(key)), message, "FieldValueUnknown")
    elif get_origin(tp) is list and isinstance(data, list):
        for i, item in enumerate(data):
            yield from _unknown(item, get_args(tp)[0], f"{path}[{i}]")
    elif get_origin(tp) is dict and isinstance(data, dict):
        for key, value in data.items():
            yield from _unknown(value, get_args(tp)[1], f"{path}[{key}]")


def wire_fields(cls: type[BaseModel]) -> dict[str, Any]:
    """The wire (camelCase) name of each field of `cls`, with its type."""
    return {info.alias or name: info.annotation for name, info in cls.model_fields.items()}


def _unwrap(tp: Any) -> Any:
    """`X` from `Annotated[X, ...]` and from `X | None`; other unions stay as they are."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _hint(word: str, choices: list[str]) -> str:
    # A different case only (`storageURI`) is the likeliest slip; difflib weighs it low.
    same = [c for c in choices if c.lower() == word.lower()]
    close = same or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f', did you mean "{close[0]}"?' if close else ""


# --- pydantic errors -------------------------------------------------------------------------

_TYPE_ERRORS = ("_type", "_parsing")


def _from_pydantic(
    err: ValidationError, root: type[BaseModel], *, known: list[FieldCause]
) -> list[FieldCause]:
    reported = {c.field for c in known}
    causes = []
    for error in err.errors(include_url=False):
        path = loc_path(root, error["loc"])
        if error["type"] == "extra_forbidden" and path in reported:
            continue  # already reported with a hint by unknown_fields
        causes.append(FieldCause(path, *_message(error)))
    return causes


def loc_path(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """Kubernetes' spelling of a pydantic error location: fields dotted, items and keys in []."""
    path = ""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            path, tp = _join(path, part), wire_fields(tp).get(part, Any)
        elif get_origin(tp) in (list, dict) or isinstance(part, int):
            path = f"{path}[{part}]"
            args = get_args(tp)
            tp = args[-1] if args else Any
        else:
            path = _join(path, str(part))
    return path


def _message(error: Mapping[str, Any]) -> tuple[str, str]:
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "required field is missing", "FieldValueRequired"
    if kind == "extra_forbidden":
        return "unknown field", "FieldValueUnknown"
    if kind == "value_error":
        return msg.removeprefix("Value error, "), "FieldValueInvalid"
    got = _show(error.get("input"))
    if kind.endswith(_TYPE_ERRORS):
        return f"{msg}, got {got}", "FieldValueTypeInvalid"
    if kind in ("literal_error", "enum"):
        return f"{msg}, got {got}", "FieldValueNotSupported"
    return f"{msg}, got {got}", "FieldValueInvalid"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
