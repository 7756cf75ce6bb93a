"""`/openapi/v3`: the root index and one OpenAPI 3 document per group-version, as Kubernetes
serves them. kubectl reads them before `apply`/`edit`: a PATCH operation that lists the
`fieldValidation` parameter tells it the server validates fields itself (ours always rejects
unknown fields), and the schemas serve `kubectl explain`."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema

from mlservice._version import __version__
from mlservice.api.patch import accepted_types
from mlservice.resources import MODELS
from mlservice.resources.kinds import KINDS, KindInfo

_COMPONENT_REF = "#/components/schemas/{model}"


def group_version_paths() -> list[str]:
    """The root's keys: `api/v1` for the core group, `apis/{group}/{version}` for the others."""
    paths: list[str] = []
    for kind in KINDS:
        path = f"apis/{kind.group}/{kind.version}" if kind.group else f"api/{kind.version}"
        if path not in paths:
            paths.append(path)
    return paths


def schema_prefix(group: str, version: str) -> str:
    """Kubernetes' component-name prefix: the group reversed (`dev.tensorstack.v1beta1`), and
    `io.k8s.api.core.v1` for the core group."""
    if not group:
        return f"io.k8s.api.core.{version}"
    return ".".join([*reversed(group.split(".")), version])


def root() -> dict[str, Any]:
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={document_hash(path)}"}
            for path in group_version_paths()
        }
    }


def document_hash(path: str) -> str:
    return _encoded(path)[1]


@cache
def _encoded(path: str) -> tuple[bytes, str]:
    body = json.dumps(document(path), sort_keys=True).encode()
    return body, hashlib.sha512(body).hexdigest().upper()


def document(path: str) -> dict[str, Any]:
    """The OpenAPI 3 document for one root key; KeyError for a path the root does not list."""
    if path not in group_version_paths():
        raise KeyError(path)
    kinds = [k for k in KINDS if _path_of(k) == path]
    group, version = kinds[0].group, kinds[0].version
    schemas = _schemas(kinds, schema_prefix(group, version))
    paths: dict[str, Any] = {}
    for kind in kinds:
        paths.update(_kind_paths(kind, schema_prefix(group, version)))
    return {
        "openapi": "3.0.0",
        "info": {"title": "mlservice", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _path_of(kind: KindInfo) -> str:
    return f"apis/{kind.group}/{kind.version}" if kind.group else f"api/{kind.version}"


def _gvk(kind: KindInfo) -> dict[str, str]:
    return {"group": kind.group, "version": kind.version, "kind": kind.kind}


def _schemas(kinds: list[KindInfo], prefix: str) -> dict[str, Any]:
    """The kinds' pydantic schemas, every part renamed `{prefix}.{Name}` and made OpenAPI 3.0."""
    mode: Literal["validation"] = "validation"
    models = [(MODELS[k.kind], mode) for k in kinds if k.kind in MODELS]
    keys, generated = models_json_schema(models, by_alias=True, ref_template=_COMPONENT_REF)
    names = {name: f"{prefix}.{name}" for name in generated.get("$defs", {})}
    schemas = {names[name]: _openapi30(part, names) for name, part in generated["$defs"].items()}
    for (model, _), ref in keys.items():
        name = names[ref["$ref"].rsplit("/", 1)[-1]]
        kind = next(k for k in kinds if MODELS.get(k.kind) is model)
        wanted = f"{prefix}.{kind.kind}"
        if name != wanted:
            schemas[wanted] = schemas.pop(name)
            _rename_refs(schemas, old=name, new=wanted)
        schemas[wanted]["x-kubernetes-group-version-kind"] = [_gvk(kind)]
        properties = schemas[wanted].get("properties", {})
        if "apiVersion" in properties and "kind" in properties:
            properties["apiVersion"] = {"type": "string", "enum": [kind.api_version]}
            properties["kind"] = {"type": "string", "enum": [kind.kind]}
    return schemas


def _openapi30(schema: Any, names: dict[str, str]) -> Any:
    """JSON Schema as pydantic writes it, in OpenAPI 3.0's dialect kubectl parses: refs renamed,
    `anyOf: [X, {type: null}]` as a nullable X."""
    if isinstance(schema, list):
        return [_openapi30(item, names) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _openapi30(value, names) for key, value in schema.items()}
    ref = out.get("$ref")
    if isinstance(ref, str):
        out["$ref"] = _COMPONENT_REF.format(model=names[ref.rsplit("/", 1)[-1]])
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            out = {**rest[0], **out}
        else:
            out["anyOf" if len(rest) > 1 else "allOf"] = rest
        out["nullable"] = True
    return out


def _rename_refs(schemas: dict[str, Any], *, old: str, new: str) -> None:
    text = json.dumps(schemas).replace(
        json.dumps(_COMPONENT_REF.format(model=old)), json.dumps(_COMPONENT_REF.format(model=new))
    )
    schemas.clear()
    schemas.update(json.loads(text))


def _parameter(name: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": {"type": "string"}}


def _kind_paths(kind: KindInfo, prefix: str) -> dict[str, Any]:
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    scope = "/namespaces/{namespace}" if kind.namespaced else ""
    scoped = [_parameter("namespace", "path")] if kind.namespaced else []
    ref = {"$ref": _COMPONENT_REF.format(model=f"{prefix}.{kind.kind}")}
    body = {"required": True, "content": {"application/json": {"schema": ref}}}
    answer = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
    writes = [_parameter(p) for p in ("dryRun", "fieldManager", "fieldValidation")]

    def operation(action: str, **extra: Any) -> dict[str, Any]:
        return {
            "operationId": f"{action}{kind.kind}",
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": _gvk(kind),
            "responses": answer,
            **extra,
        }

    patch_body = {
        "required": True,
        # What the route takes (strategic merge for core kinds only), as Kubernetes lists it.
        "content": {media: {"schema": {"type": "object"}} for media in accepted_types(kind)},
    }
    return {
        f"{base}{scope}/{kind.plural}": {
            "parameters": scoped,
            "get": operation("list"),
            "post": operation("post", requestBody=body, parameters=writes),
        },
        f"{base}{scope}/{kind.plural}/{{name}}": {
            "parameters": [*scoped, _parameter("name", "path")],
            "get": operation("get"),
            "put": operation("put", requestBody=body, parameters=writes),
            "patch": operation(
                "patch", requestBody=patch_body, parameters=[*writes, _parameter("force")]
            ),
            "delete": operation("delete"),
        },
    }


def router() -> APIRouter:
    api = APIRouter(tags=["discovery"])

    @api.get("/openapi/v3", operation_id="getOpenAPIV3Root")
    async def index() -> JSONResponse:
        return JSONResponse(root())

    @api.get("/openapi/v3/{path:path}", operation_id="getOpenAPIV3Document")
    async def group_version(path: str) -> JSONResponse:
        if path not in group_version_paths():
            raise HTTPException(404, f"no OpenAPI document for {path!r}")
        body, digest = _encoded(path)
        return JSONResponse(json.loads(body), headers={"ETag": f'"{digest}"'})

    return api
