"""Discovery documents (`/api`, `/apis`, `/apis/{group}/{version}`) that Kubernetes clients
read to learn which resources exist, their verbs and short names; `/api` and `/apis` answer in
aggregated discovery v2 (every group's resources at once) to clients that ask for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mlservice._version import __version__
from mlservice.api.pod_objects import aggregated_pods, listed_pods
from mlservice.resources.kinds import GROUP, KINDS, VERSION, KindInfo, group_versions

_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_STATUS_VERBS = ["get", "patch", "update"]
# Aggregated discovery (kubectl >= 1.30 asks for it first): one answer for `/api` or `/apis`.
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> bool:
    """Whether an Accept header lists aggregated discovery v2 (any q; we serve it if listed)."""
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        named = dict(p.partition("=")[::2] for p in params)
        if (
            media == "application/json"
            and named.get("g") == "apidiscovery.k8s.io"
            and named.get("v") == "v2"
            and named.get("as") == "APIGroupDiscoveryList"
        ):
            return True
    return False


def aggregated(*, core: bool) -> dict[str, Any]:
    """`APIGroupDiscoveryList` for `/api` (core) or `/apis` (every other group)."""
    groups = {"": ["v1"]} if core else group_versions()
    items = [
        {
            "metadata": {"name": name, "creationTimestamp": None},
            "versions": [
                {
                    "version": version,
                    "resources": [
                        _aggregated_resource(k)
                        for k in KINDS
                        if k.group == name and k.version == version
                    ]
                    + ([aggregated_pods()] if core else []),
                    "freshness": "Current",
                }
                for version in versions
            ],
        }
        for name, versions in groups.items()
    ]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _aggregated_resource(kind: KindInfo) -> dict[str, Any]:
    response_kind = {"group": kind.group, "version": kind.version, "kind": kind.kind}
    resource: dict[str, Any] = {
        "resource": kind.plural,
        "responseKind": response_kind,
        "scope": "Namespaced" if kind.namespaced else "Cluster",
        "singularResource": kind.singular,
        "verbs": _VERBS,
    }
    if kind.short_names:
        resource["shortNames"] = list(kind.short_names)
    if kind.categories:
        resource["categories"] = list(kind.categories)
    if kind.status_subresource:
        resource["subresources"] = [
            {"subresource": "status", "responseKind": response_kind, "verbs": _STATUS_VERBS}
        ]
    return resource


def _aggregated_response(request: Request, *, core: bool) -> JSONResponse | None:
    if not wants_aggregated(request.headers.get("accept", "")):
        return None
    return JSONResponse(aggregated(core=core), media_type=AGGREGATED, headers={"Vary": "Accept"})


def resource_list(group: str, version: str) -> dict[str, Any]:
    group_version = f"{group}/{version}" if group else version
    resources: list[dict[str, Any]] = []
    for kind in KINDS:
        if kind.group == group and kind.version == version:
            resources += _resources(kind)
    if not group:
        resources += listed_pods()
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
    async def core_versions(request: Request) -> JSONResponse:
        return _aggregated_response(request, core=True) or JSONResponse(
            {"kind": "APIVersions", "versions": ["v1"]}, headers={"Vary": "Accept"}
        )

    @api.get("/api/v1", operation_id="getCoreV1APIResources")
    async def core_resources() -> JSONResponse:
        return JSONResponse(resource_list("", "v1"))

    @api.get("/apis", operation_id="getAPIVersions")
    async def groups(request: Request) -> JSONResponse:
        listed = [_group(name, versions) for name, versions in group_versions().items()]
        return _aggregated_response(request, core=False) or JSONResponse(
            {"kind": "APIGroupList", "apiVersion": "v1", "groups": listed},
            headers={"Vary": "Accept"},
        )

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
