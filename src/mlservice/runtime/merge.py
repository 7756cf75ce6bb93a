"""Kubernetes' strategic merge patch, for a release's `template.spec` onto its runtime's PodSpec.

The rules are Kubernetes': maps merge key by key (a `null` in the patch deletes the key); lists
of objects with a patch merge key (containers by `name`, ports by `containerPort`, volumeMounts by
`mountPath`, ...) merge item by item, items only in the patch appended in patch order; every
other list (`args`, `command`, `tolerations`) is replaced whole. The `$patch` directive is
honoured: `delete` on a keyed list item or a map removes it, `replace` on a map replaces it, and a
`{$patch: replace}` item replaces the whole list.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlservice.errors import InvalidInput

DIRECTIVE = "$patch"


@dataclass(frozen=True)
class Schema:
    """How the fields of one object type merge: keyed lists and typed nested objects."""

    keyed: Mapping[str, tuple[str, Schema]] = field(default_factory=dict)
    nested: Mapping[str, Schema] = field(default_factory=dict)


ANY = Schema()
CONTAINER = Schema(
    keyed={
        "env": ("name", ANY),
        "ports": ("containerPort", ANY),
        "volumeMounts": ("mountPath", ANY),
        "volumeDevices": ("devicePath", ANY),
    }
)
POD_SPEC = Schema(
    keyed={
        "containers": ("name", CONTAINER),
        "initContainers": ("name", CONTAINER),
        "ephemeralContainers": ("name", CONTAINER),
        "volumes": ("name", ANY),
        "imagePullSecrets": ("name", ANY),
        "hostAliases": ("ip", ANY),
        "resourceClaims": ("name", ANY),
        "topologySpreadConstraints": ("topologyKey", ANY),
    }
)
POD_TEMPLATE = Schema(nested={"spec": POD_SPEC})


def strategic_merge(
    original: Mapping[str, Any], patch: Mapping[str, Any], schema: Schema = POD_SPEC
) -> dict[str, Any]:
    """`patch` merged onto `original` (neither is changed); `schema` names the keyed lists."""
    merged = _merge_map(dict(original), patch, schema)
    return merged if merged is not None else {}


def _merge_map(
    original: dict[str, Any], patch: Mapping[str, Any], schema: Schema
) -> dict[str, Any] | None:
    directive = patch.get(DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: _clean(v) for k, v in patch.items() if not k.startswith("$")}
    result = copy.deepcopy(original)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = _merge_value(key, result.get(key), value, schema)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    return result


def _merge_value(key: str, current: Any, value: Any, schema: Schema) -> Any:
    if key in schema.keyed and isinstance(value, list) and isinstance(current, list | None):
        merge_key, item_schema = schema.keyed[key]
        return _merge_keyed(current or [], value, merge_key, item_schema, where=key)
    if isinstance(value, dict):
        sub = schema.nested.get(key, ANY)
        return _merge_map(current if isinstance(current, dict) else {}, value, sub)
    return _clean(value)


def _merge_keyed(
    original: list[Any], patch: list[Any], merge_key: str, schema: Schema, *, where: str
) -> list[Any]:
    if any(isinstance(i, dict) and i == {DIRECTIVE: "replace"} for i in patch):
        return [_clean(i) for i in patch if i != {DIRECTIVE: "replace"}]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise InvalidInput(
                f"Patch item {item!r} of {where} lacks its merge key {merge_key}; "
                "it cannot be matched to an item of the runtime."
            )
        index = next(
            (
                i
                for i, o in enumerate(result)
                if isinstance(o, dict) and o.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if index is None:
            if item.get(DIRECTIVE) != "delete":
                result.append(_clean(item))
            continue
        merged = _merge_map(result[index], item, schema)
        if merged is None:
            del result[index]
        else:
            result[index] = merged
    return result


def _clean(value: Any) -> Any:
    """A patch value with its directives removed, ready to be stored as is."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
