"""PATCH bodies as the Kubernetes API accepts them: JSON merge patch (RFC 7386), JSON patch
(RFC 6902) and, for the core kinds only, strategic merge patch.

As on a cluster, a strategic merge patch of a custom kind (ours, KServe's) is refused with 415:
the server knows no merge keys for it. kubectl never sends one for them on `apply` or `edit`
(it sends a merge patch for kinds outside its built-in scheme); `kubectl patch` does unless
given `--type merge|json`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mlservice.errors import InvalidInput, InvalidObject
from mlservice.resources.kinds import KindInfo
from mlservice.runtime.merge import ANY, Schema, strategic_merge

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# Plain JSON was always taken as a merge patch here (older clients send it); Kubernetes
# refuses it, so it is not advertised.
PLAIN_JSON = "application/json"

Patcher = Callable[[Any, Any], Any]

# The merge keys of the core kinds' lists (`patchMergeKey` in k8s.io/api); every other list
# of theirs is atomic (replaced whole).
_METADATA = Schema(keyed={"ownerReferences": ("uid", ANY)})
_CORE_SCHEMAS: dict[str, Schema] = {
    "ServiceAccount": Schema(keyed={"secrets": ("name", ANY)}, nested={"metadata": _METADATA}),
}
_CORE_DEFAULT = Schema(nested={"metadata": _METADATA})
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def accepted_types(kind: KindInfo) -> tuple[str, ...]:
    """The PATCH content types `kind` takes, in the order Kubernetes lists them."""
    if kind.group:
        return (JSON_PATCH, MERGE_PATCH)
    return (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)


def unsupported_message(kind: KindInfo) -> str:
    """The 415 message, word for word Kubernetes'."""
    return (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted_types(kind))
    )


def patcher(kind: KindInfo, content_type: str) -> Patcher | None:
    """How a body of `content_type` patches an object of `kind`; None when it is refused."""
    if content_type in (MERGE_PATCH, PLAIN_JSON):
        return _checked_merge_patch
    if content_type == JSON_PATCH:
        return json_patch
    if content_type == STRATEGIC_MERGE_PATCH and not kind.group:
        schema = _CORE_SCHEMAS.get(kind.kind, _CORE_DEFAULT)
        return lambda target, patch: core_strategic_merge(target, patch, schema)
    return None


def _checked_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise InvalidInput("A merge patch must be a JSON object.")
    return merge_patch(target, patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied: objects merge by key, `null` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def core_strategic_merge(target: Any, patch: Any, schema: Schema = _CORE_DEFAULT) -> Any:
    """A strategic merge patch of a core object: lists with a merge key merge item by item,
    `metadata.finalizers` (a set) gains the patch's items, other lists are replaced."""
    if not isinstance(patch, dict):
        raise InvalidInput("A strategic merge patch must be a JSON object.")
    if not isinstance(target, dict):
        raise InvalidInput("Only an object can take a strategic merge patch.")
    _check_merge_keys(patch, schema, where="")
    patch = _finalizers_merged(target, patch)
    return strategic_merge(target, patch, schema)


def _check_merge_keys(patch: dict[str, Any], schema: Schema, *, where: str) -> None:
    """Every item of a keyed list names its merge key (Kubernetes refuses the patch else)."""
    for key, value in patch.items():
        path = f"{where}.{key}" if where else key
        if key in schema.keyed and isinstance(value, list):
            merge_key = schema.keyed[key][0]
            for item in value:
                if isinstance(item, dict) and item.get("$patch") == "replace" and len(item) == 1:
                    continue
                if not isinstance(item, dict) or merge_key not in item:
                    raise InvalidInput(
                        f"An item of {path} in the strategic merge patch does not contain "
                        f"its merge key {merge_key!r}."
                    )
        elif key in schema.nested and isinstance(value, dict):
            _check_merge_keys(value, schema.nested[key], where=path)


def _finalizers_merged(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    metadata = patch.get("metadata")
    if not isinstance(metadata, dict):
        return patch
    removed = metadata.get(_DELETE_PRIMITIVES + "finalizers")
    added = metadata.get("finalizers")
    if removed is None and not isinstance(added, list):
        return patch
    current = (target.get("metadata") or {}).get("finalizers") or []
    if not isinstance(current, list):
        current = []
    merged = [*current, *(f for f in added or [] if f not in current)]
    gone = removed if isinstance(removed, list) else []
    kept = {k: v for k, v in metadata.items() if k != _DELETE_PRIMITIVES + "finalizers"}
    kept["finalizers"] = [f for f in merged if f not in gone]
    return {**patch, "metadata": kept}


# --- JSON patch (RFC 6902) ---------------------------------------------------------------------


def json_patch(target: Any, operations: Any) -> Any:
    """`target` with the RFC 6902 `operations` applied in order (all or nothing). A body that
    is not a list of operations is a 400; an operation that cannot apply is a 422, as on a
    cluster."""
    if not isinstance(operations, list):
        raise InvalidInput("A JSON patch must be a JSON array of operations.")
    doc = copy.deepcopy(target)
    for index, operation in enumerate(operations):
        doc = _apply_operation(doc, _operation(operation, index))
    return doc


def _operation(operation: Any, index: int) -> dict[str, Any]:
    if not isinstance(operation, dict):
        raise InvalidInput(f"JSON patch operation {index} is not an object.")
    op = operation.get("op")
    if op not in ("add", "remove", "replace", "move", "copy", "test"):
        raise InvalidInput(f"JSON patch operation {index} has an unknown op {op!r}.")
    needed = ["path"] + (["from"] if op in ("move", "copy") else [])
    for key in needed:
        if not isinstance(operation.get(key), str):
            raise InvalidInput(f"JSON patch operation {index} ({op}) needs a string {key!r}.")
    if op in ("add", "replace", "test") and "value" not in operation:
        raise InvalidInput(f"JSON patch operation {index} ({op}) needs a 'value'.")
    return operation


def _apply_operation(doc: Any, operation: dict[str, Any]) -> Any:
    op, path = operation["op"], operation["path"]
    match op:
        case "add":
            return _add(doc, path, copy.deepcopy(operation["value"]))
        case "remove":
            return _remove(doc, path)[0]
        case "replace":
            _remove(doc, path)
            return _add(doc, path, copy.deepcopy(operation["value"]))
        case "move":
            source = operation["from"]
            if path != source and path.startswith(source + "/"):
                raise _failed(f"cannot move {source!r} into its own child {path!r}")
            doc, value = _remove(doc, source)
            return _add(doc, path, value)
        case "copy":
            return _add(doc, path, copy.deepcopy(_get(doc, operation["from"])))
        case _:  # "test"
            if _get(doc, path) != operation["value"]:
                raise _failed(f"testing value {path!r} failed")
            return doc


def _failed(message: str) -> InvalidObject:
    return InvalidObject(f"the JSON patch could not be applied: {message}")


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise InvalidInput(f"JSON pointer {pointer!r} must start with '/'.")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    node = doc
    for depth, token in enumerate(tokens[:-1]):
        node = _child(node, token, "/" + "/".join(tokens[: depth + 1]))
    return node, tokens[-1]


def _child(node: Any, token: str, where: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise _failed(f"path {where!r} does not exist")
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, where, appending=False)]
    raise _failed(f"path {where!r} does not exist")


def _index(items: list[Any], token: str, where: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(items)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _failed(f"{token!r} in {where!r} is not an array index")
    index = int(token)
    if index > len(items) or (index == len(items) and not appending):
        raise _failed(f"index {index} in {where!r} is out of range")
    return index


def _get(doc: Any, pointer: str) -> Any:
    node = doc
    tokens = _tokens(pointer)
    for depth, token in enumerate(tokens):
        node = _child(node, token, "/" + "/".join(tokens[: depth + 1]))
    return node


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, pointer, appending=True), value)
    else:
        raise _failed(f"path {pointer!r} does not exist")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    """`doc` without the value at `pointer`, and that value."""
    if pointer == "":
        return None, doc
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        if token not in parent:
            raise _failed(f"path {pointer!r} does not exist")
        return doc, parent.pop(token)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, token, pointer, appending=False))
    raise _failed(f"path {pointer!r} does not exist")
