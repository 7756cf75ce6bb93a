"""The V2 gRPC server of `mls serve --grpc-port`, beside REST on the same loop and data plane
(`connection.py` says why not grpc's own servers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from mlservice.errors import Unavailable
from mlservice.server.config import ServerConfig
from mlservice.server.dataplane import DataPlane
from mlservice.server.grpc.connection import GrpcConnection, GrpcFront
from mlservice.server.grpc.rpc import method_table
from mlservice.server.grpc.servicer import InferenceServicer

log = logging.getLogger("mlservice.server")


@dataclass(frozen=True, slots=True)
class GrpcSettings:
    host: str
    """Loopback by default, like REST."""
    port: int
    """0 picks a free port; the log line says which."""
    max_message_bytes: int
    """Largest request message (after decompression); `--max-body-bytes`. Answers are not
    bounded here, as REST's are not: a client refuses one past its own receive limit."""
    reuse_port: bool = False
    """Only `--workers` shares the port; a single server must fail when the port is taken."""
    release: str | None = None
    """Sent as `x-mls-release` trailing metadata, unless a predictor's answer carries one."""
    grace_seconds: float = 5.0
    """How long calls in flight may finish once the server stops."""
    max_connection_age: float = 300.0
    """Seconds before a connection is asked to go away (GOAWAY; clients reconnect on their own).
    gRPC has no per-stream read timeout: this is what bounds a stream whose message stops
    short; jittered by 10% so clients do not reconnect in step."""
    max_connection_age_grace: float = 60.0
    """How long calls in flight may finish on a connection past its age before it is closed."""
    max_connection_idle: float = 300.0
    """A connection without calls for this long is asked to go away (no keepalive pings are
    sent: age and idleness bound every connection, a dead client's included)."""

    @classmethod
    def from_config(cls, config: ServerConfig) -> GrpcSettings:
        return cls(
            host=config.host,
            port=config.grpc_port or 0,
            max_message_bytes=config.max_body_bytes,
            reuse_port=config.reuse_port,
            release=config.release,
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@contextlib.asynccontextmanager
async def serve_grpc(dataplane: DataPlane, settings: GrpcSettings) -> AsyncIterator[int]:
    """Serve V2 gRPC while the context is open; yields the port bound."""
    servicer = InferenceServicer(dataplane, release=settings.release)
    front = GrpcFront(method_table(servicer), settings)
    sock = _bind(settings)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: GrpcConnection(front), sock=sock, backlog=1024)
    port = int(sock.getsockname()[1])
    log.info("mls serve: V2 gRPC on %s:%d", settings.host, port)
    try:
        yield port
    finally:
        server.close()
        await front.drain(settings.grace_seconds)
        front.close()


def _bind(settings: GrpcSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if settings.reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise Unavailable(
            f"Cannot listen for gRPC on {settings.address}: the port is in use or the host is "
            f"not an address of this machine ({(exc.strerror or str(exc)).lower()})."
        ) from exc
    return sock
