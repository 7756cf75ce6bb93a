"""The control-plane API as one ASGI app: object routes, discovery, auth and Status errors."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from mlservice._version import __version__
from mlservice.api import console, discovery, openapi, openapi_v3, pods, routes, status
from mlservice.api.auth import BearerAuth
from mlservice.api.metrics_history import MetricsHistory
from mlservice.api.objects import Objects
from mlservice.home import Home
from mlservice.store import Store


def create_app(
    *,
    store: Store,
    home: Home,
    token: str,
    pod_view: pods.PodView | None = None,
    metrics: MetricsHistory | None = None,
) -> FastAPI:
    """The API over `store` (and the replicas `pod_view` shows as Pods, the gateway's recent
    `metrics` for the console); every path but `/healthz`, `/openapi.json` and the console's
    shell under `/ui/` needs `token` (or the console's session cookie)."""
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
    app.include_router(console.router(token=token, history=metrics, request_logs=home.request_logs))

    @app.get("/healthz", tags=["health"], operation_id="getHealthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    openapi.install(app)
    app.add_middleware(BearerAuth, token=token)
    return app
