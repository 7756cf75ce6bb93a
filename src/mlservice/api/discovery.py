"""Discovery documents (`/api`, `/apis`, `/apis/{group}/{version}`) that Kubernetes clients
read to learn which resources exist, their verbs and short names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mlservice._version import __version__
from mlservice.resources.kinds import GROUP, KINDS, VERSION, KindInfo, group_versions

_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_STATUS_VERBS = ["get", "patch", "update"]


def resource_list(group: str, version: str) -> dict[str, Any]:
    group_version = f"{group}/{version}" if group else version
    resources: list[dict[str, Any]] = []
    for kind in KINDS:
        if kind.group == group and kind.version == version:
            resources += _resources(kind)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _resources(kind: KindInfo) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": _VERBS,
        "shortNames": list(kind.short_names),
    }
    if kind.categories:  # omitted when empty, as Kubernetes does
        main["categories"] = list(kind.categories)
    if not kind.status_subresource:
        return [main]
    status = {
        "name": f"{kind.plural}/status",
        "singularName": "",
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": _STATUS_VERBS,
    }
    return [main, status]


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def _add_group(api: APIRouter, name: str, versions: list[str]) -> None:
    """`/apis/{group}` and `/apis/{group}/{version}` for a group other than ours."""

    async def group() -> JSONResponse:
        return JSONResponse({"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)})

    slug = "".join(part.capitalize() for part in name.split("."))
    api.add_api_route(f"/apis/{name}", group, methods=["GET"], operation_id=f"get{slug}APIGroup")
    for version in versions:
        api.add_api_route(
            f"/apis/{name}/{version}",
            _resource_list_endpoint(name, version),
            methods=["GET"],
            operation_id=f"get{slug}{version.capitalize()}APIResources",
        )


def _resource_list_endpoint(group: str, version: str) -> Callable[[], Awaitable[JSONResponse]]:
    async def resources() -> JSONResponse:
        return JSONResponse(resource_list(group, version))

    return resources


def router() -> APIRouter:
    api = APIRouter(tags=["discovery"])

    @api.get("/api", operation_id="getCoreAPIVersions")
    async def core_versions() -> JSONResponse:
        return JSONResponse({"kind": "APIVersions", "versions": ["v1"]})

    @api.get("/api/v1", operation_id="getCoreV1APIResources")
    async def core_resources() -> JSONResponse:
        return JSONResponse(resource_list("", "v1"))

    @api.get("/apis", operation_id="getAPIVersions")
    async def groups() -> JSONResponse:
        listed = [_group(name, versions) for name, versions in group_versions().items()]
        return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": listed})

    @api.get(f"/apis/{GROUP}", operation_id="getTensorstackAPIGroup")
    async def group() -> JSONResponse:
        return JSONResponse({"kind": "APIGroup", "apiVersion": "v1", **_group(GROUP, [VERSION])})

    @api.get(f"/apis/{GROUP}/{VERSION}", operation_id="getTensorstackV1beta1APIResources")
    async def group_resources() -> JSONResponse:
        return JSONResponse(resource_list(GROUP, VERSION))

    for name, versions in group_versions().items():
        if name != GROUP:
            _add_group(api, name, versions)

    @api.get("/version", operation_id="getCodeVersion")
    async def version() -> JSONResponse:
        return JSONResponse(
            {"major": "1", "minor": "30", "gitVersion": f"v{__version__}", "platform": "mlservice"}
        )

    return api
