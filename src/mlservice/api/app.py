"""The control-plane API as one ASGI app: object routes, discovery, auth and Status errors."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from mlservice._version import __version__
from mlservice.api import discovery, openapi, openapi_v3, pods, routes, status
from mlservice.api.auth import BearerAuth
from mlservice.api.objects import Objects
from mlservice.home import Home
from mlservice.store import Store


def create_app(
    *, store: Store, home: Home, token: str, pod_view: pods.PodView | None = None
) -> FastAPI:
    """The API over `store` (and the replicas `pod_view` shows as Pods); every path but
    `/healthz` and `/openapi.json` needs `token`."""
    app = FastAPI(
        title="mlservice control plane",
        version=__version__,
        description="Kubernetes-style API for MLService, SimpleMLService, MLServiceRuntime, "
        "Secret and PersistentVolumeClaim objects, and KServe's InferenceService, "
        "ServingRuntime and ClusterServingRuntime.",
        # The interactive docs pull scripts from a CDN; this server makes no outside requests.
        docs_url=None,
        redoc_url=None,
    )
    app.state.objects = Objects(store, home)
    app.state.pods = pod_view if pod_view is not None else pods.PodView()
    status.install(app)
    app.include_router(discovery.router())
    app.include_router(openapi_v3.router())
    app.include_router(routes.router())
    app.include_router(pods.router())

    @app.get("/healthz", tags=["health"], operation_id="getHealthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    openapi.install(app)
    app.add_middleware(BearerAuth, token=token)
    return app
