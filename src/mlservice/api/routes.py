"""The object endpoints: Kubernetes paths and verbs for every kind in `kinds.KINDS`, namespaced
(`.../namespaces/{namespace}/{plural}`) or cluster-scoped (`.../{plural}`).

Routes are generated per kind (rather than matching `{plural}`) so `/openapi.json` lists each
operation under the name the Kubernetes API gives it (`createNamespacedMLService`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mlservice.api.body import parse_json
from mlservice.api.field_validation import FieldValidation, field_validation, warning_header
from mlservice.api.objects import Objects, Target, Written
from mlservice.api.openapi import DELETE_OPTIONS, body
from mlservice.api.patch import patcher, unsupported_message
from mlservice.api.selectors import combine, field_selector, label_selector
from mlservice.api.tables import table_response, table_version, table_watch
from mlservice.api.watch import parse_since, watch_response
from mlservice.resources.kinds import KINDS, KindInfo
from mlservice.resources.limits import INT64_MAX
from mlservice.store import ListResult, Obj


@dataclass(frozen=True)
class ListParams:
    watch: Annotated[bool, Query()] = False
    resource_version: Annotated[str | None, Query(alias="resourceVersion")] = None
    # int64, as Kubernetes' own field: larger numbers are a 400, not an overflow further on.
    timeout_seconds: Annotated[int | None, Query(alias="timeoutSeconds", ge=0, le=INT64_MAX)] = None
    label_selector: Annotated[str | None, Query(alias="labelSelector")] = None
    field_selector: Annotated[str | None, Query(alias="fieldSelector")] = None


def objects_of(request: Request) -> Objects:
    objects: Objects = request.app.state.objects
    return objects


async def json_body(request: Request) -> Any:
    raw = await request.body()
    return parse_json(raw) if raw else None


def fields_of(
    value: Annotated[str | None, Query(alias="fieldValidation")] = None,
) -> FieldValidation:
    return field_validation(value)


def written(result: Written, *, status_code: int = 200) -> JSONResponse:
    """The stored object, with a `Warning` header per warning as Kubernetes sends them."""
    response = JSONResponse(result.obj, status_code=status_code)
    for text in result.warnings:
        response.headers.append("Warning", warning_header(text))
    return response


def name_in(body: Any) -> str | None:
    """The name a create's body gives (`metadata.name`, else `generateName`), for the Status
    of a refusal (kubectl: `The MLService "x" is invalid`), as the Kubernetes API names it."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(metadata, dict):
        return None
    for key in ("name", "generateName"):
        if isinstance(metadata.get(key), str) and metadata[key]:
            return str(metadata[key])
    return None


def router() -> APIRouter:
    api = APIRouter()
    for kind in KINDS:
        _add_kind(api, kind)
    return api


def _prefix(kind: KindInfo) -> str:
    return f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"


# How a path becomes a Target: dependencies, so FastAPI documents the path parameters.
TargetOf = Callable[..., Target]


def _collection_of(kind: KindInfo) -> TargetOf:
    if not kind.namespaced:
        return lambda: Target.cluster(kind)

    def collection(namespace: str) -> Target:
        return Target(kind, namespace)

    return collection


def _item_of(kind: KindInfo) -> TargetOf:
    if not kind.namespaced:

        def cluster_item(name: str) -> Target:
            return Target.cluster(kind, name)

        return cluster_item

    def item(namespace: str, name: str) -> Target:
        return Target(kind, namespace, name)

    return item


def _add_kind(api: APIRouter, kind: KindInfo) -> None:
    if kind.namespaced:
        collection = f"{_prefix(kind)}/namespaces/{{namespace}}/{kind.plural}"
        scope = "Namespaced"
    else:  # `/apis/{group}/{version}/{plural}[/{name}]`, operations named like `createNamespace`
        collection = f"{_prefix(kind)}/{kind.plural}"
        scope = ""
    item = f"{collection}/{{name}}"
    name = kind.kind
    in_collection, in_item = _collection_of(kind), _item_of(kind)

    def add(path: str, endpoint: Callable[..., Any], method: str, op: str, **extra: Any) -> None:
        api.add_api_route(path, endpoint, methods=[method], operation_id=op, tags=[name], **extra)

    if kind.namespaced:
        add(
            f"{_prefix(kind)}/{kind.plural}",
            _lister(kind, lambda: Target(kind, None)),
            "GET",
            f"list{name}ForAllNamespaces",
        )
    add(collection, _lister(kind, in_collection), "GET", f"list{scope}{name}")
    add(
        collection,
        _creator(in_collection),
        "POST",
        f"create{scope}{name}",
        status_code=201,
        openapi_extra=body(kind.kind),
    )
    add(item, _delete(in_item), "DELETE", f"delete{scope}{name}", openapi_extra=DELETE_OPTIONS)
    for suffix, status in (("", False), ("/status", True)):
        if status and not kind.status_subresource:
            continue
        op = f"{scope}{name}{'Status' if status else ''}"
        add(item + suffix, _read(in_item), "GET", f"read{op}")
        replaced = body(None if status else kind.kind)
        add(
            item + suffix,
            _replace(in_item, status=status),
            "PUT",
            f"replace{op}",
            openapi_extra=replaced,
        )
        add(
            item + suffix,
            _patch(kind, in_item, status=status),
            "PATCH",
            f"patch{op}",
            openapi_extra=body(None),
        )


def _bound(endpoint: Callable[..., Any], target_of: TargetOf) -> Callable[..., Any]:
    """`endpoint` with its `target` parameter resolved from the path by `target_of`. Set
    after the definition: FastAPI resolves postponed annotations in the module's globals,
    where the closure's `target_of` is not."""
    endpoint.__annotations__["target"] = Annotated[Target, Depends(target_of)]
    return endpoint


def _lister(kind: KindInfo, target_of: TargetOf) -> Callable[..., Any]:
    async def list_objects(
        request: Request,
        target: Target,
        params: Annotated[ListParams, Depends()],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> Response:
        matches = combine(
            label_selector(params.label_selector),
            field_selector(params.field_selector, kind=kind.kind),
        )
        since = parse_since(params.resource_version)  # a bad one is a 400 for a list too
        version = table_version(request)
        if params.watch:
            watch = await watch_response(
                objects.store,
                target.scope,
                since=since,
                timeout_seconds=params.timeout_seconds,
                matches=matches,
            )
            if version:
                return table_watch(request, version, kind=kind.kind, watch=watch)
            return watch
        found = await run_in_threadpool(objects.list, target, matches)
        if version:
            rv = str(found.resource_version)
            return table_response(
                request, version, kind=kind.kind, items=found.items, resource_version=rv
            )
        return JSONResponse(_list_body(kind, found))

    return _bound(list_objects, target_of)


def _list_body(kind: KindInfo, found: ListResult) -> Obj:
    return {
        "apiVersion": kind.api_version,
        "kind": f"{kind.kind}List",
        "metadata": {"resourceVersion": str(found.resource_version)},
        "items": found.items,
    }


def _creator(target_of: TargetOf) -> Callable[..., Any]:
    async def create(
        request: Request,
        target: Target,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
        fields: Annotated[FieldValidation, Depends(fields_of)],
    ) -> JSONResponse:
        request.state.object_name = name_in(body)  # read by status.py for a refusal's details
        created = await run_in_threadpool(lambda: objects.create(target, body, fields=fields))
        return written(created, status_code=201)

    return _bound(create, target_of)


def _read(target_of: TargetOf) -> Callable[..., Any]:
    async def read(
        request: Request,
        target: Target,
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> JSONResponse:
        found = await run_in_threadpool(objects.get, target)
        if version := table_version(request):
            rv = str(found["metadata"].get("resourceVersion", ""))
            return table_response(
                request, version, kind=target.kind.kind, items=[found], resource_version=rv
            )
        return JSONResponse(found)

    return _bound(read, target_of)


def _replace(target_of: TargetOf, *, status: bool) -> Callable[..., Any]:
    async def replace(
        target: Target,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
        fields: Annotated[FieldValidation, Depends(fields_of)],
    ) -> JSONResponse:
        if status:
            return JSONResponse(await run_in_threadpool(objects.replace_status, target, body))
        replaced = await run_in_threadpool(lambda: objects.replace(target, body, fields=fields))
        return written(replaced)

    return _bound(replace, target_of)


def _patch(kind: KindInfo, target_of: TargetOf, *, status: bool) -> Callable[..., Any]:
    async def patch(
        request: Request,
        target: Target,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
        fields: Annotated[FieldValidation, Depends(fields_of)],
    ) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        apply = patcher(kind, content_type)
        if apply is None:  # 415, as Kubernetes answers (a strategic merge of a custom kind)
            raise HTTPException(415, unsupported_message(kind))
        patched = await run_in_threadpool(
            lambda: objects.patch(target, body, patcher=apply, status=status, fields=fields)
        )
        return written(patched)

    return _bound(patch, target_of)


def _delete(target_of: TargetOf) -> Callable[..., Any]:
    async def delete(
        target: Target,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(objects.delete, target, body))

    return _bound(delete, target_of)
