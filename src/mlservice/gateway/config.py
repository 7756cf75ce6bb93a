"""The gateway's settings: a value, built by the CLI, read by every part."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GatewayConfig:
    request_logs: Path | None = None
    """Folder of the local request log (`$MLS_HOME/logs/requests`); None keeps no local copy."""
    routes_file: Path | None = None
    """Where the last accepted routing snapshot is kept (`$MLS_HOME/gateway/routes.json`) and
    served from at start; None keeps none."""
    routes_owner: str | None = None
    """The run of `mls up` this gateway belongs to (`routesfile.run_of`): saved routes are
    served at start only if the same run saved them (its replicas are still the ones named)."""
    activation_timeout: float = 60.0
    """Longest a request waits for a revision with no ready replica (bounded further by the
    revision's own `timeout_seconds`); then 503. Covers a cold start of most models."""
    queue_limit: int = 1000
    """Requests one revision may hold (waiting for a replica or a free slot); more get 503."""
    connect_timeout: float = 5.0
    """Opening a connection to a replica; loopback connects in microseconds or fails at once."""
    connect_attempts: int = 3
    """Replicas tried when connecting fails before anything was sent."""
    retry_body_bytes: int = 1024 * 1024
    """A request whose replica closed the connection before any byte of an answer goes once
    more to another replica when its body is at most this (kept until the answer starts)."""
    eject_seconds: float = 2.0
    """A replica that refused a connection gets no new requests for this long (or until the
    next snapshot lists it again with a new address)."""
    idle_upstream_seconds: float = 2.0
    """Idle keep-alive connections older than this are not reused. Below uvicorn's 5 s
    keep-alive, so we never write to a connection the replica is closing."""
    max_header_bytes: int = 64 * 1024
    """Largest request head (request line and headers); past it 431 and the connection closes.
    As common servers allow; the parser buffers a head whole, so this bounds its memory."""
    max_headers: int = 100
    """Most header fields in one request head (Apache's default); more get 431."""
    header_timeout: float = 30.0
    """Longest a request head may take to arrive, from its first byte (slowloris); then 408."""
    body_timeout: float = 30.0
    """Longest a request body may go without a byte arriving while the gateway reads it;
    then 408 if no answer has started, and the connection closes."""
    linger_seconds: float = 2.0
    """After answering a request that was not read to its end, what the client still sends is
    read and dropped this long before the connection closes (closing at once would reset it,
    and a reset can destroy the answer before the client reads it)."""
    body_buffer_bytes: int = 256 * 1024
    """Request body held while a replica is found; past it the client is paused, not buffered."""
    log_body_bytes: int = 8 * 1024 * 1024
    """Most of a body copied into a request-log event; the rest is cut (the event says so)."""
    logger_queue_events: int = 10000
    """Events waiting for delivery per sink URL; past it they are dropped (counted) while the
    local file still gets every one."""
