"""The gateway in front of one upstream: `mls agent`, a pod's sidecar on Kubernetes (the role of
Knative's queue-proxy and KServe's agent).

It is the gateway's proxy, not a copy: the same exchange, limits (431, 408, timeouts), balancer
and request log, with a routing table that holds one revision (the pod's server) and a route
every Host header reaches. So the request-log events of a request through the agent are the
events the gateway would send for it, given the same identity (service, namespace, component,
release, flavor).

What differs from the gateway: no admin channel and no load reports (nobody pushes routes or
reads load here), and a refused connect is retried at once instead of ejecting the replica
(there is no other replica; a server still starting answers 502 after three tries, which a
readiness probe through the agent reads as "not ready").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import signal
import socket
from dataclasses import dataclass

from mlservice.gateway.app import close_proxy, make_core, open_proxy
from mlservice.gateway.config import GatewayConfig
from mlservice.gateway.core import Core
from mlservice.gateway.snapshot import (
    DEFAULT_CONTAINER_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    Backend,
    Component,
    Endpoint,
    LoggerSpec,
    Revision,
    Route,
    RoutingSnapshot,
)
from mlservice.gateway.sockets import url_of

log = logging.getLogger("mlservice.gateway")

UPSTREAM_REPLICA = "upstream"  # the one replica's name, as errors show it
DRAIN_SECONDS = 20.0  # within Kubernetes' default 30 s grace period
DRAIN_POLL = 0.05


@dataclass(frozen=True)
class AgentSpec:
    """Who the pod is (what its request-log events say) and where its server listens."""

    upstream: str  # "127.0.0.1:PORT"
    namespace: str
    service: str
    component: Component
    release: str  # "" for a transformer
    logger: LoggerSpec | None = None
    container_concurrency: int = DEFAULT_CONTAINER_CONCURRENCY
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def revision_id(self) -> str:
        """`{namespace}/{service}-{component}-{release}`: the gateway's revision id without
        its number, which a pod does not know (only errors show it)."""
        name = "-".join(p for p in (self.service, self.component, self.release) if p)
        return f"{self.namespace}/{name}"


def agent_config(config: GatewayConfig) -> GatewayConfig:
    """`config` for one upstream: no ejection, so every refused connect is tried again at once
    (up to `connect_attempts`) rather than queued behind an ejection of the only replica."""
    return dataclasses.replace(config, eject_seconds=0.0)


def single_upstream(spec: AgentSpec) -> tuple[RoutingSnapshot, Route]:
    """The routing table's content for `spec`: one revision, and the route for any Host."""
    revision = Revision(
        id=spec.revision_id,
        namespace=spec.namespace,
        service=spec.service,
        component=spec.component,
        release=spec.release,
        endpoints=(Endpoint(replica=UPSTREAM_REPLICA, address=spec.upstream),),
        container_concurrency=spec.container_concurrency,
        timeout_seconds=spec.timeout_seconds,
        logger=spec.logger,
        # Nothing scales this pod from zero on our behalf: a request never waits for one.
        activatable=False,
    )
    route = Route(
        host="*",
        kind="transformer" if spec.component == "transform" else "release",
        namespace=spec.namespace,
        service=spec.service,
        backends=(Backend(revision=revision.id, release=spec.release, percent=100),),
    )
    snapshot = RoutingSnapshot(version=1, revisions={revision.id: revision}, routes={})
    return snapshot, route


async def serve_agent(
    spec: AgentSpec,
    config: GatewayConfig,
    *,
    sock: socket.socket,
    drain_seconds: float = DRAIN_SECONDS,
) -> None:
    """Proxy `sock`'s clients to `spec.upstream` until SIGTERM or SIGINT, then stop accepting
    and let requests in flight finish (up to `drain_seconds`); the request log is flushed (to
    its file, when it has one) before returning."""
    loop = asyncio.get_running_loop()
    core = make_core(agent_config(config))
    snapshot, route = single_upstream(spec)
    core.table.replace(snapshot)
    core.table.any_host = route
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    server = await open_proxy(core, sock, reports=False)
    log.warning("mls agent: proxy on %s to upstream %s", url_of(sock), spec.upstream)
    try:
        await stopping.wait()
        server.close()
        await _drain(core, within=drain_seconds)
    finally:
        await close_proxy(core, server)


async def _drain(core: Core, *, within: float) -> None:
    """Kubernetes sends SIGTERM to every container of a pod at once and takes it out of its
    Service at about the same time: requests already here are answered, not cut."""
    # Polled: an exchange has no hook to say "last one out", and a drain happens once.
    for _ in range(math.ceil(within / DRAIN_POLL)):
        if not any(c.current for c in core.connections):
            return
        await asyncio.sleep(DRAIN_POLL)
