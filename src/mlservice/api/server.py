"""Running the API: uvicorn on loopback sockets bound here, so port 0 can pick a free port.

Plain HTTP for the CLI and SDK, and optionally TLS for kubeconfig clients (kubectl sends its
token only over TLS): the same app and the same token on both. uvicorn's TLS settings are
per `Config`, so each socket gets its own `Server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


def bind_preferred(port: int | None, *, default: int, what: str) -> tuple[socket.socket, bool]:
    """`port` if given (taken: an error, as `bind_loopback`); else `default`, or any free port
    when `default` is taken. True when it fell back, for the caller to say so."""
    if port is not None:
        return bind_loopback(port, what=what), False
    try:
        return bind_loopback(default, what=what), False
    except InvalidInput:  # in use; other errors are not a busy port and propagate
        return bind_loopback(0, what=what), True


@dataclass(frozen=True)
class TlsListener:
    """A socket the API serves with TLS, and the certificate it presents (PEM files)."""

    sock: socket.socket
    certfile: Path
    keyfile: Path


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `mls up` owns SIGINT/SIGTERM: it stops every component, not just this server.
        yield


def _config(app: FastAPI, *, access_log: bool, tls: TlsListener | None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        # Access logs carry the method, path and status only, never a body (Secrets pass here).
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=5,
        # Longer than clients keep idle connections (httpx: 5s), so a client never sends on
        # a connection the server is closing at that very moment.
        timeout_keep_alive=75,
        ssl_certfile=tls.certfile if tls else None,
        ssl_keyfile=tls.keyfile if tls else None,
    )


class ApiServer:
    """The API app served on `sock` (plain HTTP) and on `tls.sock` (TLS) until `stop()`."""

    def __init__(
        self,
        app: FastAPI,
        sock: socket.socket,
        *,
        tls: TlsListener | None = None,
        access_log: bool = False,
    ) -> None:
        self.sock = sock
        self.tls = tls
        self._servers = [(_Server(_config(app, access_log=access_log, tls=None)), sock)]
        if tls is not None:
            self._servers.append((_Server(_config(app, access_log=access_log, tls=tls)), tls.sock))

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def started(self) -> bool:
        return all(server.started for server, _ in self._servers)

    async def serve(self) -> None:
        tasks = [
            asyncio.ensure_future(server.serve(sockets=[sock])) for server, sock in self._servers
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.stop()  # one listener failing or ending ends the others, not leaves them
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_started(self, task: asyncio.Task[None]) -> None:
        """Return once serving, or raise whatever made `task` (running `serve`) fail."""
        while not self.started:
            if task.done():
                task.result()
                raise RuntimeError("The API server stopped before it started.")
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
