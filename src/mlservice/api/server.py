"""Running the API: uvicorn on a loopback socket bound here, so port 0 can pick a free port."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from mlservice.errors import InvalidInput

HOST = "127.0.0.1"


def bind_loopback(port: int, *, what: str = "API") -> socket.socket:
    """A listening socket on 127.0.0.1:`port` (0: any free port), or a clear error if taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"The {what} port {port} on {HOST} is already in use; choose another "
                "(0 picks a free one)."
            ) from None
        raise
    sock.listen(512)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `mls up` owns SIGINT/SIGTERM: it stops every component, not just this server.
        yield


class ApiServer:
    """The API app served on `sock` until `stop()`."""

    def __init__(self, app: FastAPI, sock: socket.socket, *, access_log: bool = False) -> None:
        self.sock = sock
        # Access logs carry the method, path and status only, never a body (Secrets pass here).
        config = uvicorn.Config(
            app,
            lifespan="off",
            access_log=access_log,
            log_level="info",
            timeout_graceful_shutdown=5,
            # Longer than clients keep idle connections (httpx: 5s), so a client never sends on
            # a connection the server is closing at that very moment.
            timeout_keep_alive=75,
        )
        self._server = _Server(config)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    async def serve(self) -> None:
        await self._server.serve(sockets=[self.sock])

    async def wait_started(self, task: asyncio.Task[None]) -> None:
        """Return once serving, or raise whatever made `task` (running `serve`) fail."""
        while not self._server.started:
            if task.done():
                task.result()
                raise RuntimeError("The API server stopped before it started.")
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
