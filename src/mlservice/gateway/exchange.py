"""One request through the gateway: route, wait for a replica, stream both ways, account.

No coroutine runs per request on the fast path: the exchange is a small state machine driven
by the client connection's parser, the upstream connection's parser, the revision's queue and
one timer. A coroutine runs only to open a new upstream connection.

Timeline: `begin` (route, split) -> `acquire` (a replica now, or queued: `granted` later) ->
`send` on a pooled or new connection -> `response_head` / `response_body` /
`response_complete` -> `finish` (free the slot, count, log), once, whatever happened.

An answer (ours or the replica's) may come before the client has sent its whole body. When
the rest is known and small it is read and dropped and the connection kept; otherwise the
answer says `connection: close` and the connection closes after it (`ClientConnection.shut`):
nobody will read that body, and reading it forever is what a hostile client would want.

Retries: a refused connect tries another replica (nothing was sent); a replica that closes
the connection before any byte of an answer gets the request sent once more, to another
replica when there is one, if its body was at most `retry_body_bytes`: the body is kept
until the answer starts, and nothing the replica said can be contradicted.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

from mlservice.errors import Unavailable
from mlservice.gateway import httpwire, split
from mlservice.gateway.balancer import Replica
from mlservice.gateway.inflight import InFlight
from mlservice.gateway.shadow import Buffer
from mlservice.gateway.snapshot import Backend, Route

if TYPE_CHECKING:
    from mlservice.gateway.core import Core
    from mlservice.gateway.proxy import ClientConnection
    from mlservice.gateway.reqlog.capture import Capture
    from mlservice.gateway.revision import RevisionState
    from mlservice.gateway.upstream import UpstreamConnection

CLIENT_CLOSED = 499  # nginx's code for a client that left before its answer


class Exchange(InFlight):
    __slots__ = (
        "_up_out",
        "activity",
        "backend",
        "body",
        "body_size",
        "capture",
        "code",
        "conn",
        "head",
        "headers",
        "http11",
        "keep_alive",
        "method",
        "replayed",
        "request_done",
        "response",
        "response_done",
        "route",
        "shadow",
        "upstream",
        "url",
    )

    def __init__(
        self,
        conn: ClientConnection,
        method: bytes,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        keep_alive: bool,
        http11: bool,
    ) -> None:
        self.conn = conn
        self.core: Core = conn.core
        self.method = method
        self.url = url
        self.headers = headers
        self.keep_alive = keep_alive
        self.http11 = http11
        self.started = time.monotonic()
        self.deadline = None  # a client's own deadline is gRPC's alone
        self.head = httpwire.RequestHead(method, url, headers)
        self.route: Route | None = None
        self.backend: Backend | None = None
        self.state: RevisionState | None = None
        self.replica: Replica | None = None
        self.upstream: UpstreamConnection | None = None
        self.response: httpwire.ResponseHead | None = None
        self.capture: Capture | None = None
        self.shadow: Buffer | None = None  # kept for a shadow copy (gateway/shadow.py)
        self.waiting = False
        self.attempts = 0
        # The request body as sent upstream: all of it until sent, then kept for a replay
        # while `body_size` stays within `retry_body_bytes` (-1: too large, not kept).
        self.body: list[bytes] = []
        self.body_size = 0
        self.replayed = False
        self.request_done = False
        self.response_done = False
        self.finished = False
        self.code = 0
        self.activity = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._up_out: list[bytes] = []  # upstream writes gathered while corked

    # -- routing
    def begin(self) -> None:
        """Route by Host; called when this exchange becomes its connection's current one."""
        route = self.core.route_for(self.head.host)
        if route is None:
            host = self.head.host.decode("latin-1")
            self.reject(404, f"No service answers to host {host!r}.")
            return
        if route.paused:
            self.reject(503, f"Service {route.namespace}/{route.service} is paused.")
            return
        self.route = route
        if route.shadow is not None and random.random() * 100.0 < route.shadow.percent:
            self._keep_for_shadow(route.shadow.revision)
        if self.head.expect_continue and not self.request_done:
            self.conn.write(httpwire.CONTINUE)
        self.dispatch()

    def _keep_for_shadow(self, revision: str) -> None:
        """Keep this request's bodies for a copy to `revision`. Body bytes read before its turn
        (pipelined) are kept too, unless chunked (held re-chunked: not copied)."""
        shadow = Buffer(revision, limit=self.core.config.retry_body_bytes)
        if self.body_size and self.head.chunked:
            shadow.request = None
        for data in self.body:
            shadow.add_request(data)
        self.shadow = shadow

    def dispatch(self) -> None:
        route = self.route
        assert route is not None
        backend = split.choose(route.backends)
        state = self.core.table.revisions.get(backend.revision) if backend else None
        if state is None:
            self.reject(503, f"Service {route.namespace}/{route.service} has no revision to serve.")
            return
        self.backend = backend
        try:
            replica = state.acquire(self)
        except Unavailable as exc:
            self.reject(503, exc.message)
            return
        self.state = state
        revision = state.revision
        if revision.logger is not None and self.capture is None:
            self.capture = self.core.request_log.capture(revision, self)
        if replica is not None:
            self._arm(self.started + revision.timeout_seconds)
            self.attach(replica)
        else:
            bound = revision.timeout_seconds
            if not state.replicas:
                bound = min(bound, self.core.config.activation_timeout)
            self._arm(self.started + bound)

    def redispatch(self) -> None:
        """Our revision left the snapshot while we waited: route again (a rollout, say)."""
        self.state = None
        self.backend = None
        route = self.core.route_for(self.head.host)
        if route is None or route.paused:
            self.reject(503, f"Host {self.head.host.decode('latin-1')!r} stopped serving.")
            return
        self.route = route
        self.dispatch()

    # -- connecting
    def attach(self, replica: Replica) -> None:
        self.replica = replica
        upstream = replica.pool.take()
        if upstream is not None:
            self.send(upstream)
        else:
            self.core.spawn(self._connect(replica))

    async def _connect(self, replica: Replica) -> None:
        try:
            upstream = await replica.pool.connect(within=self.core.config.connect_timeout)
        except (OSError, TimeoutError) as exc:
            if not self.finished and self.replica is replica:
                refused = self._refused(replica, replica.address, exc)
                if refused is not None:
                    self.reject(502, refused)
            return
        if self.finished or self.replica is not replica:
            upstream.abort()
            return
        self.send(upstream)

    def send(self, upstream: UpstreamConnection) -> None:
        self.upstream = upstream
        upstream.start(self, head_only=self.method == b"HEAD")
        if self.body:
            self._write_up(self.head.data + b"".join(self.body))
            if self.body_size > self.core.config.body_buffer_bytes:
                self.conn.set_reading(False)
            if self.body_size > self.core.config.retry_body_bytes:
                self._forget_body()
        else:
            self._write_up(self.head.data)
        if self.request_done and self.head.chunked:
            self._write_up(httpwire.LAST_CHUNK)

    def _write_up(self, data: bytes) -> None:
        """To the replica; while the client's bytes are being parsed, gathered into one write
        (a loopback send costs tens of microseconds, so head and body go out together)."""
        if self.conn.corked:
            if not self._up_out:
                self.conn.flush_later(self)
            self._up_out.append(data)
        elif self.upstream is not None:
            self.upstream.write(data)

    def flush_upstream(self) -> None:
        out, self._up_out = self._up_out, []
        if out and self.upstream is not None:
            self.upstream.write(b"".join(out))

    # -- request body, from the client connection
    def request_body(self, data: bytes) -> None:
        if self.capture is not None:
            self.capture.request(data)
        if self.shadow is not None:
            self.shadow.add_request(data)
        if self.response_done or self.finished:
            return  # answered already (an error, or a replica that answered early)
        if self.head.chunked:
            data = httpwire.chunk(data)
        if self.upstream is not None:
            self._write_up(data)
            if self.body_size >= 0:  # kept for a replay, while small enough
                self.body.append(data)
                self.body_size += len(data)
                if self.body_size > self.core.config.retry_body_bytes:
                    self._forget_body()
            return
        self.body.append(data)
        self.body_size += len(data)
        if self.body_size > self.core.config.body_buffer_bytes >= self.body_size - len(data):
            self.conn.set_reading(True)

    def request_complete(self) -> None:
        self.request_done = True
        if self.finished and self.shadow is not None:
            self._copy_to_shadow(None)  # answered before the body was all read
        if self.upstream is not None and self.head.chunked and not self.response_done:
            self._write_up(httpwire.LAST_CHUNK)
        if self.response_done:
            self.conn.exchange_done(self)

    def upstream_paused(self, paused: bool) -> None:
        self.conn.set_reading(paused)

    def batch(self, on: bool) -> None:
        """The upstream parses a read: what it makes us write to the client goes out as one."""
        if on:
            self.conn.cork()
        else:
            self.conn.uncork()

    # -- response, from the upstream connection
    def response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        assert self.backend is not None
        assert self.state is not None
        self.code = status
        if self.body:
            self._forget_body()  # answered: no replay now
        if not self.request_done and not self._rest_is_small():
            self.keep_alive = False  # answered before the body was read: close after it
        release = self.backend.release
        no_body = self.method == b"HEAD" or status in (204, 304)
        self.response = response = httpwire.ResponseHead(
            status,
            reason,
            headers,
            release=release.encode() if release else None,
            body_allowed=not no_body,
            http11=self.http11,
            keep_alive=self.keep_alive,
        )
        if response.close:
            self.keep_alive = False
        self.activity = time.monotonic()
        self.conn.write(response.data)

    def response_body(self, chunk: bytes) -> None:
        if self.capture is not None:
            self.capture.response(chunk)
        if self.shadow is not None:
            self.shadow.add_response(chunk)
        self.activity = time.monotonic()
        assert self.response is not None
        self.conn.write(httpwire.chunk(chunk) if self.response.chunk_out else chunk)

    def response_complete(self, keep_alive: bool) -> None:
        upstream, self.upstream = self.upstream, None
        assert self.response is not None
        assert self.replica is not None
        if self.response.chunk_out:
            self.conn.write(httpwire.LAST_CHUNK)
        if upstream is not None:
            if keep_alive and self.request_done:
                self.replica.pool.give(upstream)
            else:
                upstream.abort()
        self.response_done = True
        self.finish()
        if self.request_done:
            self.conn.exchange_done(self)
        else:
            self._unread_rest()

    def upstream_lost(self, exc: Exception | None) -> None:
        upstream, self.upstream = self.upstream, None
        if self.finished:
            return
        if self.response is not None:
            self.conn.abort()  # a half-sent answer: only a cut connection tells the client
            self.finish()
            return
        replica = self.replica
        assert replica is not None
        assert self.state is not None
        if upstream is not None and not upstream.answering and self._replayable():
            self._replay(replica)
            return
        self.reject(
            502,
            f"Replica {replica.name} ({replica.address}) of {self.state.id} closed the "
            "connection before answering.",
        )

    def _replayable(self) -> bool:
        """Not replayed yet, and the body is kept (and, if declared, not too large to be)."""
        if self.replayed or self.body_size < 0:
            return False
        length = httpwire.content_length(self.headers)  # on this failure path only
        return length is None or length <= self.core.config.retry_body_bytes

    def _replay(self, failed: Replica) -> None:
        """Send the request once more: to another replica if one is free, else to the same
        one on a new connection (a pooled one may have died with the one that failed)."""
        assert self.state is not None
        self.replayed = True
        self.replica = None
        replica = self.state.reroute(self, failed)
        if replica is failed:
            self.replica = replica
            self.core.spawn(self._connect(replica))
        elif replica is not None:
            self.attach(replica)

    def _forget_body(self) -> None:
        self.body.clear()
        self.body_size = -1

    # -- the client side
    def client_paused(self, paused: bool) -> None:
        if self.upstream is not None:
            self.upstream.set_reading(paused)

    def client_gone(self) -> None:
        if not self.finished:
            self.code = self.code or CLIENT_CLOSED
            self._drop_upstream()
            self.finish()

    # -- ending
    def reject(self, status: int, message: str) -> None:
        """Answer with an error of our own (or cut the connection if an answer had begun)."""
        self._drop_upstream()
        if self.response is not None:
            self.conn.abort()
            self.finish()
            return
        self.code = status
        self.response_done = True
        # A client waiting for "100 Continue" will not send its body now: close, don't wait.
        if not self.request_done and (self.head.expect_continue or not self._rest_is_small()):
            self.keep_alive = False
        self.conn.write(httpwire.error_response(status, message, close=not self.keep_alive))
        self.finish()
        if not self.request_done:
            self._unread_rest()
        elif self.keep_alive:
            self.conn.exchange_done(self)
        else:
            self.conn.close()

    def _rest_is_small(self) -> bool:
        """Whether the body still to come is declared, and small enough to read and drop."""
        if self.head.chunked:
            return False
        length = httpwire.content_length(self.headers)
        return length is not None and length <= self.core.config.body_buffer_bytes

    def _unread_rest(self) -> None:
        """Answered while the client still sends its body: drop the rest, or close."""
        if self.keep_alive:
            self.conn.set_reading(False)  # a paused client would never finish: resume it
        else:
            self.conn.shut()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self._timer is not None:
            self._timer.cancel()
        state = self.state
        seconds = time.monotonic() - self.started
        if state is None:
            self.core.unrouted(self.code)
            self.shadow = None  # no release answered: nothing to compare a copy with
            return
        if self.waiting:
            state.cancel(self)
        state.release(self.replica, code=self.code, seconds=seconds)
        event_id = self.capture.done(self) if self.capture is not None else None
        if self.shadow is not None and self.request_done:
            self._copy_to_shadow(event_id)

    def _copy_to_shadow(self, event_id: str | None) -> None:
        shadow, self.shadow = self.shadow, None
        assert shadow is not None
        self.core.shadows.hand_over(
            shadow,
            method=self.method,
            url=self.url,
            headers=self.headers,
            answered_code=self.code if self.response is not None else 0,
            event_id=event_id,
            traceparent=self.head.traceparent,
            content_type=self.head.content_type,
        )

    def _drop_upstream(self) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.receiver = None
            upstream.abort()

    def _timed_out(self, state: RevisionState) -> None:
        timeout = state.revision.timeout_seconds
        if self.waiting:
            waited = time.monotonic() - self.started
            if not state.replicas:
                self.reject(503, f"Revision {state.id} had no ready replica after {waited:.3g}s.")
            else:
                self.reject(504, f"Revision {state.id} had no free replica within {timeout:g}s.")
        elif self.response is None:
            self.reject(504, f"Revision {state.id} did not answer within {timeout:g}s.")
        elif (idle := time.monotonic() - self.activity) < timeout:
            self._arm(time.monotonic() + timeout - idle)  # still streaming: check again later
        else:
            self.code = 504
            self._drop_upstream()
            self.conn.abort()
            self.finish()
