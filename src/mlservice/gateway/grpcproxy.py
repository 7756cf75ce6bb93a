"""gRPC through the gateway: HTTP/2 cleartext (h2c) on a port of its own, call by call.

Each call (an HTTP/2 stream) is routed like an HTTP/1.1 request, by `:authority` instead of
Host: the same routes, the canary split rolled per call, the same revision queues (so a call
at zero replicas waits for one, bounded by the activation timeout, and its wait is the demand
the autoscaler sees), and the same counters and request log. What is gRPC's own: a deadline
from `grpc-timeout` (the revision's timeout still bounds it), answers of ours as a
`grpc-status` in trailers, `x-mls-release` in the response's initial metadata, and the
replica's gRPC port (`Endpoint.grpc`) as the upstream.

Like the HTTP/1.1 exchange, a call is a small state machine driven by the two connections'
events; a coroutine runs only to open a connection to a replica.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from typing import TYPE_CHECKING

from mlservice.errors import Unavailable
from mlservice.gateway import split
from mlservice.gateway.balancer import Replica
from mlservice.gateway.grpcupstream import GrpcUpstream, UpstreamLinks
from mlservice.gateway.inflight import InFlight
from mlservice.gateway.shadow import Buffer
from mlservice.gateway.trace import is_valid, new_traceparent
from mlservice.h2c import events, grpcwire
from mlservice.h2c.events import Headers
from mlservice.h2c.grpcwire import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    UNAVAILABLE,
    UNIMPLEMENTED,
)
from mlservice.h2c.peer import Batch, H2Error, H2Peer

if TYPE_CHECKING:
    from mlservice.gateway.core import Core
    from mlservice.gateway.reqlog.capture import Capture
    from mlservice.gateway.revision import RevisionState
    from mlservice.gateway.snapshot import Backend


class GrpcFront:
    """What every h2c client connection shares: the gateway's core and the replica links."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.batch = Batch()
        self.links = UpstreamLinks(batch=self.batch, connect_timeout=core.config.connect_timeout)
        self.connections: set[GrpcConnection] = set()

    def close(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        self.links.close()


class GrpcConnection(H2Peer):
    """A client's HTTP/2 connection: its streams are calls."""

    def __init__(self, front: GrpcFront) -> None:
        super().__init__(client_side=False, batch=front.batch)
        self.front = front
        self.calls: dict[int, GrpcCall] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.front.connections.add(self)

    def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.DataReceived):
            self.consumed(event.stream_id, event.flow_controlled_length)
            if (call := self.calls.get(event.stream_id)) is not None:
                call.request_data(event.data)
        elif isinstance(event, events.RequestReceived):
            call = GrpcCall(self, event.stream_id, event.headers)
            self.calls[event.stream_id] = call
            call.begin()
        elif isinstance(event, events.StreamEnded):
            if (call := self.calls.get(event.stream_id)) is not None:
                call.request_end()
        elif isinstance(event, events.StreamReset):
            if (call := self.calls.get(event.stream_id)) is not None:
                call.client_gone()
        elif isinstance(event, events.WindowUpdated):
            self.window_opened(event.stream_id)
        elif isinstance(event, events.ConnectionTerminated) and self.transport is not None:
            self.transport.close()

    def call_done(self, call: GrpcCall) -> None:
        self.calls.pop(call.stream_id, None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.front.connections.discard(self)
        for call in list(self.calls.values()):
            call.client_gone()


class _Head:
    """The request as the request log reads it (`Capture.done`)."""

    __slots__ = ("content_type", "traceparent")

    def __init__(self, traceparent: bytes, content_type: bytes) -> None:
        self.traceparent = traceparent
        self.content_type = content_type


class _Answer:
    __slots__ = ("content_type", "release")

    def __init__(self, release: bytes | None, content_type: bytes) -> None:
        self.release = release
        self.content_type = content_type


class GrpcCall(InFlight):
    """One call through the gateway: route, wait for a replica, relay both ways, account."""

    __slots__ = (
        "answered",
        "backend",
        "body",
        "capture",
        "code",
        "conn",
        "head",
        "headers",
        "host",
        "logged",
        "request_done",
        "response",
        "shadow",
        "stream_id",
        "trailered",
        "up_id",
        "upstream",
        "url",
    )

    def __init__(self, conn: GrpcConnection, stream_id: int, headers: Headers) -> None:
        self.conn = conn
        self.core: Core = conn.front.core
        self.stream_id = stream_id
        self.started = time.monotonic()
        self.host = b""
        self.url = b""
        self.deadline: float | None = None  # the client's, from grpc-timeout
        traceparent = content_type = b""
        forwarded: Headers = []
        for name, value in headers:
            if name == b":authority" or (name == b"host" and not self.host):
                self.host = value
            elif name == b":path":
                self.url = value
            elif name == b"grpc-timeout":
                if (seconds := grpcwire.parse_timeout(value)) is not None:
                    self.deadline = self.started + seconds
            elif name == b"traceparent":
                if not is_valid(value):
                    continue  # a malformed one starts a new trace, as on the HTTP/1.1 path
                traceparent = value
            elif name == b"content-type":
                content_type = value
            forwarded.append((name, value))
        if not traceparent:
            traceparent = new_traceparent()
            forwarded.append((b"traceparent", traceparent))
        self.headers = forwarded
        self.head = _Head(traceparent, content_type)
        self.response: _Answer | None = None
        self.backend: Backend | None = None
        self.state: RevisionState | None = None
        self.replica: Replica | None = None
        self.upstream: GrpcUpstream | None = None
        self.up_id = 0
        self.body: list[bytes] = []  # the request body, until a stream upstream takes it
        self.logged: tuple[bytearray, bytearray] | None = None  # bodies for the request log
        self.capture: Capture | None = None
        self.shadow: Buffer | None = None  # kept for a shadow copy (gateway/shadow.py)
        self.request_done = False
        self.answered = False  # response headers sent to the client
        self.trailered = False  # the client's stream is ended
        self.finished = False
        self.waiting = False
        self.attempts = 0
        self.code = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- routing
    def begin(self) -> None:
        route = self.core.route_for(self.host)
        if route is None:
            host = self.host.decode("latin-1")
            self.fail(UNIMPLEMENTED, f"No service answers to host {host!r}.")
            return
        if route.paused:
            self.fail(UNAVAILABLE, f"Service {route.namespace}/{route.service} is paused.")
            return
        mirror = route.shadow
        if mirror is not None and self.shadow is None and random.random() * 100.0 < mirror.percent:
            self.shadow = Buffer(mirror.revision, limit=self.core.config.retry_body_bytes)
        backend = split.choose(route.backends)
        state = self.core.table.revisions.get(backend.revision) if backend else None
        if state is None:
            message = f"Service {route.namespace}/{route.service} has no revision to serve."
            self.fail(UNAVAILABLE, message)
            return
        self.backend = backend
        try:
            replica = state.acquire(self)
        except Unavailable as exc:
            self.fail(UNAVAILABLE, exc.message)
            return
        self.state = state
        revision = state.revision
        self.capture = None
        if revision.logger is not None:
            self.capture = self.core.request_log.capture(revision, self)
            self.logged = (bytearray(), bytearray())
        bound = self.started + revision.timeout_seconds
        if replica is None and not state.replicas:
            bound = min(bound, self.started + self.core.config.activation_timeout)
        self._arm(bound if self.deadline is None else min(bound, self.deadline))
        if replica is not None:
            self.attach(replica)

    def redispatch(self) -> None:
        """Our revision left the snapshot while we waited: route again."""
        self.state = None
        self.backend = None
        self.capture = None
        self.begin()

    def attach(self, replica: Replica) -> None:
        self.replica = replica
        if replica.grpc is None:
            assert self.state is not None
            self.fail(UNIMPLEMENTED, f"Revision {self.state.id} serves no gRPC.")
            return
        upstream = self.conn.front.links.ready(replica.grpc)
        if upstream is not None:
            self.send(upstream)
        else:
            self.core.spawn(self._connect(replica, replica.grpc))

    async def _connect(self, replica: Replica, address: str) -> None:
        links = self.conn.front.links
        try:
            upstream = await links.connect(address)
            # A new connection is shared by every call that waited for it: when they are more
            # than it takes streams, the rest open another.
            while (not upstream.usable or upstream.full) and not self.finished:
                upstream = links.ready(address) or await links.connect(address)
        except (OSError, TimeoutError) as exc:
            if not self.finished and self.replica is replica:
                refused = self._refused(replica, address, exc)
                if refused is not None:
                    self.fail(UNAVAILABLE, refused)
            return
        if not self.finished and self.replica is replica:
            self.send(upstream)
            self.conn.batch.flush()

    def send(self, upstream: GrpcUpstream) -> None:
        body, self.body = self.body, []
        end = self.request_done
        try:
            self.up_id = upstream.open(self, self.headers, end=end and not body)
        except H2Error as exc:
            self.fail(UNAVAILABLE, f"The connection to the replica took no new call: {exc}.")
            return
        self.upstream = upstream
        if body:
            upstream.send_data(self.up_id, b"".join(body), end=end)

    # -- the request, from the client
    def request_data(self, data: bytes) -> None:
        if self.logged is not None:
            self._log(self.logged[0], data)
        if self.shadow is not None:
            self.shadow.add_request(data)
        if self.finished:
            return
        if self.upstream is not None:
            self.upstream.send_data(self.up_id, data)
        else:
            self.body.append(data)

    def request_end(self) -> None:
        self.request_done = True
        if self.upstream is not None and not self.finished:
            self.upstream.send_data(self.up_id, b"", end=True)

    def client_gone(self) -> None:
        if not self.finished:
            self.code = self.code or grpcwire.HTTP_CODE[CANCELLED]
            self.trailered = True
            self.conn.forget(self.stream_id)  # what was held for the client goes nowhere now
            self._drop_upstream()
            self.finish()

    # -- the response, from the replica
    def response_headers(self, headers: Headers) -> None:
        assert self.backend is not None
        release = self.backend.release.encode() or None
        content_type = grpcwire.GRPC_CONTENT_TYPE
        for name, value in headers:
            if name == b"content-type":
                content_type = value
        if release:
            headers = [*headers, (grpcwire.RELEASE, release)]
        self.response = _Answer(release, content_type)
        self.answered = True
        self.conn.send_headers(self.stream_id, headers)

    def response_data(self, data: bytes) -> None:
        if self.logged is not None:
            self._log(self.logged[1], data)
        if self.shadow is not None:
            self.shadow.add_response(data)
        self.conn.send_data(self.stream_id, data)

    def response_trailers(self, trailers: Headers) -> None:
        self.upstream = None
        status = b"2"  # UNKNOWN, if the replica sent none
        for name, value in trailers:
            if name == b"grpc-status":
                status = value
        self.code = grpcwire.http_code(status)
        self.trailered = True
        if not self.answered:
            self.answered = True  # a replica's Trailers-Only answer
            self._answer_release(trailers)
        self.conn.send_trailers(self.stream_id, trailers)
        self.finish()

    def _answer_release(self, trailers: Headers) -> None:
        assert self.backend is not None
        release = self.backend.release.encode() or None
        self.response = _Answer(release, grpcwire.GRPC_CONTENT_TYPE)
        if release:
            trailers.append((grpcwire.RELEASE, release))

    def response_end(self) -> None:
        """The replica ended its stream without trailers: not a valid gRPC answer."""
        self.upstream = None
        self.fail(grpcwire.INTERNAL, "The replica ended the call without a grpc-status.")

    def upstream_failed(self, reason: str) -> None:
        self.upstream = None
        replica, state = self.replica, self.state
        where = f"Replica {replica.name} of {state.id}" if replica and state else "The replica"
        self.fail(UNAVAILABLE, f"{where}: {reason}.")

    # -- ending
    def fail(self, status: int, message: str) -> None:
        """End the call with a status of our own (trailers after any answer begun)."""
        if self.finished:
            return
        self._drop_upstream()
        self.code = grpcwire.http_code(status)
        if not self.trailered:
            self.trailered = True
            release = self.backend.release.encode() if self.backend else None
            if self.answered:
                self.conn.send_trailers(self.stream_id, grpcwire.trailers(status, message))
            else:
                head = grpcwire.trailers_only(status, message, release=release or None)
                self.conn.send_headers(self.stream_id, head, end=True)
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.conn.call_done(self)
        if self._timer is not None:
            self._timer.cancel()
        state = self.state
        if state is None:
            self.core.unrouted(self.code)
            return
        if self.waiting:
            state.cancel(self)
        state.release(self.replica, code=self.code, seconds=time.monotonic() - self.started)
        capture = self.capture
        event_id = None
        if capture is not None and self.logged is not None:
            request, self.head.content_type = grpcwire.unframe(bytes(self.logged[0]))
            capture.request(request)
            if self.response is not None:
                response, self.response.content_type = grpcwire.unframe(bytes(self.logged[1]))
                capture.response(response)
            event_id = capture.done(self)
        if self.shadow is not None and self.request_done:
            self._copy_to_shadow(event_id)

    def _copy_to_shadow(self, event_id: str | None) -> None:
        shadow, self.shadow = self.shadow, None
        assert shadow is not None
        self.core.shadows.hand_over(
            shadow,
            method=b"POST",
            url=self.url,
            headers=self.headers,
            answered_code=self.code if self.response is not None else 0,
            event_id=event_id,
            traceparent=self.head.traceparent,
            content_type=self.head.content_type,
            grpc=True,
        )

    def _log(self, into: bytearray, data: bytes) -> None:
        room = self.core.request_log.body_limit + 5 - len(into)  # 5: the message prefix
        if room > 0:
            into += data[:room]

    def _drop_upstream(self) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.close_stream(self.up_id, cancel=True)

    def _timed_out(self, state: RevisionState) -> None:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline - 0.001:
            self.fail(DEADLINE_EXCEEDED, "The call's deadline passed at the gateway.")
        elif self.waiting and not state.replicas:
            waited = now - self.started
            self.fail(UNAVAILABLE, f"Revision {state.id} had no ready replica after {waited:.3g}s.")
        else:
            timeout = state.revision.timeout_seconds
            self.fail(DEADLINE_EXCEEDED, f"Revision {state.id} did not answer within {timeout:g}s.")


async def open_grpc(core: Core, sock: socket.socket) -> tuple[GrpcFront, asyncio.Server]:
    """Serve h2c clients on `sock` (a listening socket) with `core`'s routes."""
    front = GrpcFront(core)
    server = await core.loop.create_server(lambda: GrpcConnection(front), sock=sock, backlog=1024)
    return front, server
