"""Our CustomResourceDefinitions, their `openAPIV3Schema` generated from the pydantic models.

Kubernetes wants a *structural* schema: every node typed, no `$ref` (pydantic's `$defs` are
inlined; a model that contains itself stops at a free-form object), no `type: null` (a
nullable field is the field with `nullable: true`), no `additionalProperties: false` (the API
server prunes unknown fields instead), a bare `anyOf` of unrelated shapes and `Any` become
`x-kubernetes-preserve-unknown-fields`, an int-or-string `x-kubernetes-int-or-string`, and
JSON Schema's numeric `exclusiveMinimum` OpenAPI 3.0's boolean. Printer columns are the ones
`mls get` prints; every kind with a status has the status subresource.
"""

from __future__ import annotations

from typing import Any, Final

from mlservice.resources import MODELS
from mlservice.resources.kinds import GROUP, KINDS, KSERVE_GROUP, KindInfo

FREE: Final = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
ANY: Final = {"x-kubernetes-preserve-unknown-fields": True}
"""Any JSON value: structural schemas allow an untyped node only with this marker."""
_DROPPED: Final = frozenset({"title", "default", "examples", "discriminator", "$schema"})

# `mls get`'s columns (resources/columns.py) as JSONPaths; where mls computes a cell in Python
# (CANARY's percent, RELEASES' replica counts, GENERATION's pair) the closest field stands in.
# The fourth item is the priority: 1 shows with `-o wide` only, as `mls get -o wide`.
PRINTER_COLUMNS: Final[dict[str, list[tuple[str, str, str, int]]]] = {
    "MLService": [
        ("Ready", "string", ".status.ready", 0),
        ("URL", "string", ".status.address.url", 0),
        ("Default", "string", ".spec.default", 0),
        ("Canary", "string", ".spec.canary", 0),
        ("Age", "date", ".metadata.creationTimestamp", 0),
        ("Releases", "string", ".status.releases[*].name", 1),
        ("Generation", "integer", ".status.observedGeneration", 1),
    ],
    "SimpleMLService": [
        ("Ready", "string", ".status.ready", 0),
        ("DNS", "string", ".status.address.dns", 0),
        ("Replicas", "integer", ".spec.replicas", 0),
        ("Age", "date", ".metadata.creationTimestamp", 0),
        ("Generation", "integer", ".status.observedGeneration", 1),
    ],
    "MLServiceRuntime": [
        ("Enabled", "boolean", ".spec.enabled", 0),
        ("Formats", "string", ".spec.supportedModelFormats[*].name", 0),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ],
    "InferenceService": [
        ("URL", "string", ".status.url", 0),
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
        ("Prev", "integer", '.status.components.predictor.traffic[?(@.tag=="prev")].percent', 0),
        (
            "Latest",
            "integer",
            ".status.components.predictor.traffic[?(@.latestRevision==true)].percent",
            0,
        ),
        (
            "PrevRolledoutRevision",
            "string",
            '.status.components.predictor.traffic[?(@.tag=="prev")].revisionName',
            1,
        ),
        (
            "LatestReadyRevision",
            "string",
            ".status.components.predictor.traffic[?(@.latestRevision==true)].revisionName",
            1,
        ),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ],
    "ServingRuntime": [
        ("Disabled", "boolean", ".spec.disabled", 0),
        ("ModelType", "string", ".spec.supportedModelFormats[*].name", 0),
        ("Containers", "string", ".spec.containers[*].name", 0),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ],
}
PRINTER_COLUMNS["ClusterServingRuntime"] = PRINTER_COLUMNS["ServingRuntime"]

OUR_KINDS: Final = ("MLService", "SimpleMLService", "MLServiceRuntime")
KSERVE_KINDS: Final = ("InferenceService", "ServingRuntime", "ClusterServingRuntime")


def crds(*, kserve_kinds: bool = False) -> list[dict[str, Any]]:
    """Our kinds' CRDs; KServe's kinds too with `kserve_kinds` (not on a cluster running
    KServe: its own CRDs would be overwritten)."""
    wanted = [*OUR_KINDS, *(KSERVE_KINDS if kserve_kinds else ())]
    return [crd(next(k for k in KINDS if k.kind == kind)) for kind in wanted]


def crd(kind: KindInfo) -> dict[str, Any]:
    names: dict[str, Any] = {
        "kind": kind.kind,
        "listKind": f"{kind.kind}List",
        "plural": kind.plural,
        "singular": kind.singular,
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    if kind.categories:
        names["categories"] = list(kind.categories)
    version: dict[str, Any] = {
        "name": kind.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": object_schema(kind)},
        "additionalPrinterColumns": [
            {"name": name, "type": type_, "jsonPath": path, **({"priority": 1} if wide else {})}
            for name, type_, path, wide in PRINTER_COLUMNS.get(kind.kind, [])
        ],
    }
    if kind.status_subresource:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{kind.group}",
            "labels": {"app.kubernetes.io/managed-by": "mlservice"},
        },
        "spec": {
            "group": kind.group,
            "names": names,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [version],
        },
    }


def object_schema(kind: KindInfo) -> dict[str, Any]:
    """The kind's structural schema: apiVersion, kind, metadata, spec from the model, status
    free-form (the operator writes it)."""
    generated = MODELS[kind.kind].model_json_schema(by_alias=True, mode="validation")
    defs = generated.get("$defs", {})
    spec = generated["properties"].get("spec")
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    required = []
    if spec is not None:
        properties["spec"] = structural(spec, defs, ())
        if "spec" in generated.get("required", []):
            required.append("spec")
    properties["status"] = dict(FREE)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def structural(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    """One JSON Schema node of pydantic's as a structural OpenAPI v3 node."""
    if not isinstance(node, dict):
        return dict(ANY)
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return dict(ANY)  # recursion: Kubernetes schemas cannot refer back
        merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return structural(merged, defs, (*seen, name))
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            return _alternatives(node, node[combinator], defs, seen)
    if "allOf" in node and len(node["allOf"]) == 1:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return structural({**node["allOf"][0], **rest}, defs, seen)
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    kind = node.get("type")
    if kind is None:
        return dict(ANY)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key in ("properties", "items", "additionalProperties"):
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
            continue
        if key in ("description", "type", "enum", "format", "pattern", "required") or key in (
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "uniqueItems",
        ):
            out[key] = value
    if kind == "object":
        _object(node, out, defs, seen)
    elif kind == "array":
        out["items"] = structural(node.get("items", {}), defs, seen)
    return out


def _object(
    node: dict[str, Any], out: dict[str, Any], defs: dict[str, Any], seen: tuple[str, ...]
) -> None:
    properties = node.get("properties")
    extra = node.get("additionalProperties")
    if properties:
        out["properties"] = {
            key: structural(value, defs, seen) for key, value in properties.items()
        }
        if extra not in (None, False):
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(extra, dict) and extra:
        out["additionalProperties"] = structural(extra, defs, seen)
    else:
        out["x-kubernetes-preserve-unknown-fields"] = True


def _alternatives(
    node: dict[str, Any], options: list[Any], defs: dict[str, Any], seen: tuple[str, ...]
) -> dict[str, Any]:
    rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
    real = [o for o in options if o != {"type": "null"}]
    nullable = len(real) < len(options)
    if len(real) == 1:
        out = structural({**real[0], **rest}, defs, seen)
    elif {_type_of(o) for o in real} == {"integer", "string"}:
        out = {"x-kubernetes-int-or-string": True}
    else:
        out = dict(ANY)
    if "description" in rest:
        out.setdefault("description", rest["description"])
    if nullable:
        out["nullable"] = True
    return out


def _type_of(option: Any) -> str | None:
    return option.get("type") if isinstance(option, dict) else None


__all__ = ["GROUP", "KSERVE_GROUP", "crd", "crds", "object_schema", "structural"]
