"""The object endpoints: Kubernetes paths and verbs for every kind in `kinds.KINDS`.

Routes are generated per kind (rather than matching `{plural}`) so `/openapi.json` lists each
operation under the name the Kubernetes API gives it (`createNamespacedMLService`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mlservice.api.body import parse_json
from mlservice.api.objects import Objects, Target
from mlservice.api.openapi import DELETE_OPTIONS, body
from mlservice.api.selectors import combine, field_selector, label_selector
from mlservice.api.watch import parse_since, watch_response
from mlservice.errors import InvalidInput
from mlservice.resources.kinds import KINDS, KindInfo
from mlservice.resources.limits import INT64_MAX
from mlservice.store import ListResult, Obj

MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")
# A Secret or claim has no list merged by key, so a strategic merge patch of one (what the
# kubernetes client sends for core kinds) means the same as a JSON merge patch.
STRATEGIC = "application/strategic-merge-patch+json"


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


def router() -> APIRouter:
    api = APIRouter()
    for kind in KINDS:
        _add_kind(api, kind)
    return api


def _prefix(kind: KindInfo) -> str:
    return f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"


def _add_kind(api: APIRouter, kind: KindInfo) -> None:
    collection = f"{_prefix(kind)}/namespaces/{{namespace}}/{kind.plural}"
    item = f"{collection}/{{name}}"
    name = kind.kind

    def add(path: str, endpoint: Callable[..., Any], method: str, op: str, **extra: Any) -> None:
        api.add_api_route(path, endpoint, methods=[method], operation_id=op, tags=[name], **extra)

    add(
        f"{_prefix(kind)}/{kind.plural}",
        _lister(kind, everywhere=True),
        "GET",
        f"list{name}ForAllNamespaces",
    )
    add(collection, _lister(kind), "GET", f"listNamespaced{name}")
    add(
        collection,
        _creator(kind),
        "POST",
        f"createNamespaced{name}",
        status_code=201,
        openapi_extra=body(kind.kind),
    )
    add(item, _delete(kind), "DELETE", f"deleteNamespaced{name}", openapi_extra=DELETE_OPTIONS)
    for suffix, status in (("", False), ("/status", True)):
        op = f"Namespaced{name}{'Status' if status else ''}"
        add(item + suffix, _read(kind), "GET", f"read{op}")
        replaced = body(None if status else kind.kind)
        add(
            item + suffix,
            _replace(kind, status=status),
            "PUT",
            f"replace{op}",
            openapi_extra=replaced,
        )
        add(
            item + suffix,
            _patch(kind, status=status),
            "PATCH",
            f"patch{op}",
            openapi_extra=body(None),
        )


def _lister(kind: KindInfo, *, everywhere: bool = False) -> Callable[..., Any]:
    async def list_objects(
        request: Request,
        params: Annotated[ListParams, Depends()],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> Response:
        namespace = None if everywhere else request.path_params["namespace"]
        target = Target(kind, namespace)
        matches = combine(
            label_selector(params.label_selector), field_selector(params.field_selector)
        )
        since = parse_since(params.resource_version)  # a bad one is a 400 for a list too
        if params.watch:
            return await watch_response(
                objects.store,
                target.scope,
                since=since,
                timeout_seconds=params.timeout_seconds,
                matches=matches,
            )
        found = await run_in_threadpool(objects.list, target, matches)
        return JSONResponse(_list_body(kind, found))

    return list_objects


def _list_body(kind: KindInfo, found: ListResult) -> Obj:
    return {
        "apiVersion": kind.api_version,
        "kind": f"{kind.kind}List",
        "metadata": {"resourceVersion": str(found.resource_version)},
        "items": found.items,
    }


def _creator(kind: KindInfo) -> Callable[..., Any]:
    async def create(
        namespace: str,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> JSONResponse:
        created = await run_in_threadpool(objects.create, Target(kind, namespace), body)
        return JSONResponse(created, status_code=201)

    return create


def _read(kind: KindInfo) -> Callable[..., Any]:
    async def read(
        namespace: str, name: str, objects: Annotated[Objects, Depends(objects_of)]
    ) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(objects.get, Target(kind, namespace, name)))

    return read


def _replace(kind: KindInfo, *, status: bool) -> Callable[..., Any]:
    async def replace(
        namespace: str,
        name: str,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> JSONResponse:
        verb = objects.replace_status if status else objects.replace
        return JSONResponse(await run_in_threadpool(verb, Target(kind, namespace, name), body))

    return replace


def _patch(kind: KindInfo, *, status: bool) -> Callable[..., Any]:
    async def patch(
        request: Request,
        namespace: str,
        name: str,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        allowed = MERGE_PATCH_TYPES + ((STRATEGIC,) if not kind.group else ())
        if content_type not in allowed:
            raise InvalidInput(
                f"PATCH with content type {content_type!r} is not supported; "
                "send a JSON merge patch (application/merge-patch+json)."
            )
        target = Target(kind, namespace, name)
        patched = await run_in_threadpool(lambda: objects.patch(target, body, status=status))
        return JSONResponse(patched)

    return patch


def _delete(kind: KindInfo) -> Callable[..., Any]:
    async def delete(
        namespace: str,
        name: str,
        body: Annotated[Any, Depends(json_body)],
        objects: Annotated[Objects, Depends(objects_of)],
    ) -> JSONResponse:
        target = Target(kind, namespace, name)
        return JSONResponse(await run_in_threadpool(objects.delete, target, body))

    return delete
