"""The admin channel (loopback, bearer token): routing pushes, signals, metrics.

PUT   /admin/routes    a full snapshot, any version     -> {"version": N}
PATCH /admin/routes    a delta against version `base`   -> {"version": N}, 409 if stale
                       (or if the table came from disk at start and no PUT followed)
GET   /admin/routes    the snapshot being served
GET   /admin/signals   NDJSON: a `load` line a second, an `activate` line at once
GET   /metrics         Prometheus (open, like /healthz: counters only, no payloads)
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mlservice.errors import MLServiceError, Unauthorized
from mlservice.gateway import metrics, wire
from mlservice.gateway.core import Core
from mlservice.gateway.routesfile import RoutesFile
from mlservice.gateway.signals import signal_to_json
from mlservice.gateway.snapshot import RoutingSnapshot

Handler = Callable[[Request], Awaitable[Response]]


def create_admin_app(
    core: Core, *, token: str, closing: asyncio.Event, routes_file: RoutesFile | None = None
) -> Starlette:
    registry = metrics.registry_for(core)
    expected = f"Bearer {token}".encode()

    def guarded(handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            try:
                if not hmac.compare_digest(given, expected):
                    raise Unauthorized("The gateway admin channel needs the API bearer token.")
                return await handler(request)
            except MLServiceError as exc:
                extra = {"version": core.table.version} if exc.status_code == 409 else {}
                return JSONResponse({"error": exc.message, **extra}, status_code=exc.status_code)

        return checked

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "version": core.table.version})

    async def scrape(_: Request) -> Response:
        return Response(metrics.exposition(registry), media_type="text/plain; version=0.0.4")

    async def get_routes(_: Request) -> Response:
        return Response(wire.dump_snapshot(core.table.snapshot), media_type="application/json")

    async def accepted(snapshot: RoutingSnapshot) -> Response:
        """Served already; saved before it is acknowledged, so the file is never behind."""
        if routes_file is not None:
            await routes_file.save(snapshot)
        return JSONResponse({"version": snapshot.version})

    async def put_routes(request: Request) -> Response:
        core.table.replace(wire.parse_snapshot(await request.body()))
        return await accepted(core.table.snapshot)

    async def patch_routes(request: Request) -> Response:
        core.table.patch(wire.parse_delta(await request.body()))
        return await accepted(core.table.snapshot)

    async def signals(_: Request) -> Response:
        return StreamingResponse(_signal_lines(core, closing), media_type="application/x-ndjson")

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", scrape),
            Route("/admin/routes", guarded(get_routes), methods=["GET"]),
            Route("/admin/routes", guarded(put_routes), methods=["PUT"]),
            Route("/admin/routes", guarded(patch_routes), methods=["PATCH"]),
            Route("/admin/signals", guarded(signals), methods=["GET"]),
        ]
    )


async def _signal_lines(core: Core, closing: asyncio.Event) -> AsyncIterator[bytes]:
    with core.hub.subscribe() as queue:
        yield b'{"type": "hello"}\n'  # tells the subscriber the stream is live
        stop = asyncio.ensure_future(closing.wait())
        try:
            while not closing.is_set():
                get = asyncio.ensure_future(queue.get())
                await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    return
                yield orjson.dumps(signal_to_json(get.result())) + b"\n"
        finally:
            stop.cancel()
