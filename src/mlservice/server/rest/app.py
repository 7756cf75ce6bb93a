"""The Starlette app of `mls serve`: V1 and V2 routes, `/metrics`, and the model lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mlservice.server.dataplane import DataPlane
from mlservice.server.rest.handler import RestSettings
from mlservice.server.rest.responses import json_response
from mlservice.server.rest.torchserve import TorchServeApi, serves_archives
from mlservice.server.rest.v1 import V1
from mlservice.server.rest.v2 import V2

log = logging.getLogger("mlservice.server")
OnFatal = Callable[[BaseException], None]
OnLoaded = Callable[[], None]
# A server beside REST on the same loop and data plane (the V2 gRPC adapter): entered when the
# app starts, exited when it stops.
Service = Callable[[], AbstractAsyncContextManager[object]]


def build_app(
    dataplane: DataPlane,
    settings: RestSettings | None = None,
    *,
    on_fatal: OnFatal | None = None,
    on_loaded: OnLoaded | None = None,
    services: Sequence[Service] = (),
) -> Starlette:
    """An ASGI app serving `dataplane`; models load in the background once it starts.

    `on_fatal` is told when a model fails to load (the runner exits non-zero); without it the
    failure is only logged and the model stays unready. `on_loaded` runs once all have loaded.
    """
    settings = settings or RestSettings()
    v1, v2 = V1(dataplane, settings), V2(dataplane, settings)

    async def metrics(request: Request) -> Response:
        body, content_type = dataplane.metrics.render()
        return Response(body, media_type=content_type)

    # The infer routes first: Starlette matches in order and they carry the traffic.
    routes: list[BaseRoute] = [
        *sorted(v2.routes(), key=lambda r: not r.path.endswith("/infer")),
        *v1.routes(),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if serves_archives(dataplane):
        routes += TorchServeApi(dataplane, settings).routes()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The data plane stops only after the side services (gRPC) have drained: a call that
        # reached them in between would otherwise wait on a stopped inference thread.
        try:
            async with contextlib.AsyncExitStack() as stack:
                for service in services:
                    await stack.enter_async_context(service())
                task = asyncio.create_task(_load_all(dataplane, on_fatal, on_loaded))
                try:
                    yield
                finally:
                    task.cancel()
        finally:
            await dataplane.stop()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},  # type: ignore[dict-item]
    )


async def _load_all(
    dataplane: DataPlane, on_fatal: OnFatal | None, on_loaded: OnLoaded | None
) -> None:
    for name in dataplane.model_names:
        try:
            ready = await dataplane.load(name)
        except Exception as exc:
            log.error("model %s failed to load: %s: %s", name, type(exc).__name__, exc)
            if on_fatal is not None:
                on_fatal(exc)
            return
        if ready:
            log.info("model %s is ready", name)
        else:
            log.warning("model %s loaded but reports not ready", name)
    if on_loaded is not None:
        on_loaded()


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        message = f"No route for {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    return json_response({"error": message}, exc.status_code)
