"""Running a gateway: the proxy and the admin channel on one uvloop event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from mlservice.gateway.admin import create_admin_app
from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.core import Core
from mlservice.gateway.grpcproxy import open_grpc
from mlservice.gateway.proxy import ClientConnection
from mlservice.gateway.reqlog.logger import RequestLog
from mlservice.gateway.routesfile import RoutesFile
from mlservice.gateway.sockets import url_of

log = logging.getLogger("mlservice.gateway")


class _AdminServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the gateway handles SIGTERM/SIGINT itself and stops the proxy too


async def serve(
    config: GatewayConfig,
    *,
    proxy: socket.socket,
    admin: socket.socket,
    token: str,
    grpc: socket.socket | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT (h2c gRPC on `grpc` too, when given); the request log is
    flushed to its file before returning."""
    loop = asyncio.get_running_loop()
    core = make_core(config)
    routes_file = None
    if config.routes_file is not None:
        routes_file = RoutesFile(config.routes_file, owner=config.routes_owner)
    if routes_file is not None and (saved := routes_file.load()) is not None:
        core.table.restore(saved)
        log.warning(
            "mls gateway: serving saved routes (version %d) from %s until the next push",
            saved.version,
            routes_file.path,
        )
    closing = asyncio.Event()
    admin_server = _AdminServer(
        uvicorn.Config(
            create_admin_app(core, token=token, closing=closing, routes_file=routes_file),
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )

    def stop() -> None:
        closing.set()
        admin_server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    server = await open_proxy(core, proxy, reports=True)
    grpc_front = await open_grpc(core, grpc) if grpc is not None else None
    log.warning("mls gateway: proxy on %s, admin on %s", url_of(proxy), url_of(admin))
    if grpc is not None:
        log.warning("mls gateway: gRPC (h2c) on %s", url_of(grpc))
    try:
        await admin_server.serve(sockets=[admin])
    finally:
        if grpc_front is not None:
            front, grpc_server = grpc_front
            grpc_server.close()
            front.close()
        await close_proxy(core, server)


def make_core(config: GatewayConfig) -> Core:
    """The proxy's shared state, with its request log (not started yet)."""
    request_log = RequestLog(
        folder=config.request_logs,
        queue_limit=config.logger_queue_events,
        body_limit=config.log_body_bytes,
    )
    return Core(config, request_log=request_log)


async def open_proxy(core: Core, sock: socket.socket, *, reports: bool) -> asyncio.Server:
    """Serve client connections on `sock` and start the background work: the request log,
    the read-timeout sweeps and, for `reports`, the load reports the autoscaler reads."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ClientConnection(core), sock=sock, backlog=1024)
    # Everything alive now lives as long as the process: keep it out of the collector's scans.
    gc.collect()
    gc.freeze()
    core.request_log.start()
    if reports:
        core.start_reports()
    core.start_sweeps()
    return server


async def close_proxy(core: Core, server: asyncio.Server) -> None:
    """Stop accepting, drop open connections, flush the request log to its file."""
    server.close()
    await core.close()
    await core.request_log.close()
