"""Discovery documents (`/api`, `/apis`, `/apis/{group}/{version}`) that Kubernetes clients
read to learn which resources exist, their verbs and short names."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mlservice._version import __version__
from mlservice.resources.kinds import GROUP, KINDS, VERSION, KindInfo

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
    main = {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": _VERBS,
        "shortNames": list(kind.short_names),
    }
    status = {
        "name": f"{kind.plural}/status",
        "singularName": "",
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": _STATUS_VERBS,
    }
    return [main, status]


def _group() -> dict[str, Any]:
    version = {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}
    return {"name": GROUP, "versions": [version], "preferredVersion": version}


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
        return JSONResponse({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group()]})

    @api.get(f"/apis/{GROUP}", operation_id="getTensorstackAPIGroup")
    async def group() -> JSONResponse:
        return JSONResponse({"kind": "APIGroup", "apiVersion": "v1", **_group()})

    @api.get(f"/apis/{GROUP}/{VERSION}", operation_id="getTensorstackV1beta1APIResources")
    async def group_resources() -> JSONResponse:
        return JSONResponse(resource_list(GROUP, VERSION))

    @api.get("/version", operation_id="getCodeVersion")
    async def version() -> JSONResponse:
        return JSONResponse(
            {"major": "1", "minor": "30", "gitVersion": f"v{__version__}", "platform": "mlservice"}
        )

    return api
