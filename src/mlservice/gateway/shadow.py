"""Shadow traffic: copies of answered requests sent to a shadow release, off the request path.

An exchange chosen for a copy keeps its request body and its answer (each up to
`retry_body_bytes`, the retry rule's 1 MiB) and hands them over when it finishes, after the
client's answer is written. `Shadows.submit` only appends to a bounded queue (full: the copy
is dropped and counted); a few background tasks send the copies to a ready replica of the
shadow revision, compare its answer with the one the client got (`agreement.judge`), count,
log both answers under one `ce-id` and drop the shadow's answer. A shadow revision with no
ready replica drops its copies (counted): a copy never activates it. A gRPC call's copy goes
to the replica's gRPC port (`shadow_grpc.py`) and is judged by its ModelInferResponse outputs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import httpx

from mlservice.gateway.agreement import Verdict, grpc_predictions, judge, predictions
from mlservice.gateway.reqlog.events import FLAVORS, LogEvent, Origin, make_event, new_id
from mlservice.gateway.revision import Counters
from mlservice.gateway.shadow_grpc import GrpcShadowSender
from mlservice.gateway.signals import ShadowLoad
from mlservice.gateway.snapshot import Revision
from mlservice.h2c import grpcwire

if TYPE_CHECKING:
    from mlservice.gateway.core import Core

log = logging.getLogger("mlservice.gateway")

QUEUE_LIMIT = 1000  # copies waiting to be sent; past it they are dropped (counted)
QUEUE_BYTES = 64 * 1024 * 1024  # and their bodies, each copy holding up to 2 MiB
PARALLEL = 8  # copies in flight at once, over all shadow revisions
SHADOW_HEADER = "x-mls-shadow"  # on every copy, so a replica can tell one from real traffic
SHADOW_ATTRIBUTE = "shadow"  # the CloudEvents extension marking the shadow's log events
# Not forwarded: they describe the client's connection, or a body we re-frame.
_HOP = frozenset(
    b"connection keep-alive proxy-connection te trailer transfer-encoding upgrade expect "
    b"content-length".split()
)
Outcome = Literal["sent", "dropped_queue_full", "dropped_too_large", "dropped_no_replica"]
OUTCOMES: tuple[Outcome, ...] = (
    "sent",
    "dropped_queue_full",
    "dropped_too_large",
    "dropped_no_replica",
)
VERDICTS: tuple[Verdict, ...] = ("agree", "disagree", "incomparable")


class Buffer:
    """What an exchange keeps for its copy: both bodies, each up to `limit` bytes."""

    __slots__ = ("limit", "request", "request_size", "response", "response_size", "revision")

    def __init__(self, revision: str, *, limit: int) -> None:
        self.revision = revision  # the shadow's
        self.limit = limit
        self.request: list[bytes] | None = []  # None: too large to copy
        self.request_size = 0
        self.response: list[bytes] | None = []  # None: too large to compare
        self.response_size = 0

    def add_request(self, data: bytes) -> None:
        if self.request is not None:
            self.request_size += len(data)
            if self.request_size > self.limit:
                self.request = None
            else:
                self.request.append(data)

    def add_response(self, data: bytes) -> None:
        if self.response is not None:
            self.response_size += len(data)
            if self.response_size > self.limit:
                self.response = None
            else:
                self.response.append(data)


@dataclass(frozen=True)
class Copy:
    """One request to send to a shadow revision, and the answer the client got."""

    revision: str
    method: str
    url: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    answered_code: int
    answered_body: bytes | None
    event_id: str | None  # the answered release's request-log id, shared by the shadow's events
    traceparent: str = ""
    content_type: str = ""
    grpc: bool = False
    """A gRPC call (`url` its `:path`, bodies framed), sent to the replica's gRPC port."""

    @property
    def size(self) -> int:
        return len(self.body) + len(self.answered_body or b"")


@dataclass
class ShadowStats:
    """Counters of one shadow revision; read by the metrics collector."""

    namespace: str
    service: str
    release: str
    copies: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    answers: Counters = field(default_factory=Counters)  # status codes (502/504: no answer)
    errors: int = 0  # 5xx or no answer
    verdicts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    taken: tuple[int, ...] = (0, 0, 0, 0, 0, 0)  # the totals at the last per-second report
    taken_seconds: float = 0.0

    def totals(self) -> tuple[int, ...]:
        """(sent, dropped, errors, agree, disagree, incomparable) so far."""
        sent = self.copies["sent"]
        dropped = sum(self.copies.values()) - sent
        return (sent, dropped, self.errors, *(self.verdicts[v] for v in VERDICTS))

    def take(self, revision: str) -> ShadowLoad | None:
        """The window since the last take; None when nothing happened in it."""
        now, seconds = self.totals(), self.answers.seconds
        if now == self.taken:
            return None
        delta = [a - b for a, b in zip(now, self.taken, strict=True)]
        spent = seconds - self.taken_seconds
        self.taken, self.taken_seconds = now, seconds
        sent, dropped, errors, agree, disagree, incomparable = delta
        return ShadowLoad(
            revision=revision,
            sent=sent,
            dropped=dropped,
            errors=errors,
            agree=agree,
            disagree=disagree,
            incomparable=incomparable,
            seconds=round(spent, 6),
        )


class Shadows:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.stats: dict[str, ShadowStats] = {}  # by shadow revision id
        self.in_flight = 0
        self._queue: deque[Copy] = deque()
        self._queued_bytes = 0
        self._workers = 0
        self._turn = 0
        self._client: httpx.AsyncClient | None = None
        self._grpc: GrpcShadowSender | None = None

    def stats_for(self, revision: str) -> ShadowStats:
        stats = self.stats.get(revision)
        if stats is None:
            known = self.core.table.revisions.get(revision)
            r = known.revision if known is not None else None
            stats = ShadowStats(
                namespace=r.namespace if r else "",
                service=r.service if r else "",
                release=r.release if r else "",
            )
            self.stats[revision] = stats
        return stats

    def take(self) -> tuple[ShadowLoad, ...]:
        """Each shadow revision's window since the last call (for the per-second report)."""
        taken = (stats.take(revision) for revision, stats in self.stats.items())
        return tuple(load for load in taken if load is not None)

    def too_large(self, revision: str) -> None:
        self.stats_for(revision).copies["dropped_too_large"] += 1

    def hand_over(
        self,
        kept: Buffer,
        *,
        method: bytes,
        url: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        answered_code: int,
        event_id: str | None,
        traceparent: bytes,
        content_type: bytes,
        grpc: bool = False,
    ) -> None:
        """A finished request's copy (`answered_code` 0: no answer to compare with), after the
        client's answer is written: queued, never waited for; counted when too large."""
        if kept.request is None:
            self.too_large(kept.revision)
            return
        response = kept.response
        self.submit(
            Copy(
                revision=kept.revision,
                method=method.decode("latin-1"),
                url=url.decode("latin-1"),
                headers=tuple(headers),
                body=b"".join(kept.request),
                answered_code=answered_code,
                answered_body=b"".join(response) if response is not None else None,
                event_id=event_id,
                traceparent=traceparent.decode("latin-1"),
                content_type=content_type.decode("latin-1"),
                grpc=grpc,
            )
        )

    def submit(self, copy: Copy) -> None:
        """Queue `copy` (never waits); dropped and counted when the queue is full."""
        size = copy.size
        if len(self._queue) >= QUEUE_LIMIT or self._queued_bytes + size > QUEUE_BYTES:
            self.stats_for(copy.revision).copies["dropped_queue_full"] += 1
            return
        self._queue.append(copy)
        self._queued_bytes += size
        if self._workers < PARALLEL:
            self._workers += 1
            self.core.spawn(self._work())

    async def _work(self) -> None:
        try:
            while self._queue:
                copy = self._queue.popleft()
                self._queued_bytes -= copy.size
                await self._send(copy)
        finally:
            self._workers -= 1

    async def _send(self, copy: Copy) -> None:
        stats = self.stats_for(copy.revision)
        state = self.core.table.revisions.get(copy.revision)
        now = time.monotonic()
        usable = [r for r in state.replicas if r.usable(now)] if state is not None else []
        if state is None or not usable:
            stats.copies["dropped_no_replica"] += 1
            return
        self._turn += 1
        replica = usable[self._turn % len(usable)]
        revision = state.revision
        stats.copies["sent"] += 1
        # Seen by the autoscaler like any load, so a shadow release scales with its copies.
        state.window.requests += 1
        state.window.change(1, now)
        self.in_flight += 1
        try:
            if copy.grpc:
                code, body, content_type = await self._send_grpc(copy, replica.grpc, revision)
            else:
                code, body, content_type = await self._send_http(copy, replica.address, revision)
        finally:
            self.in_flight -= 1
            state.window.change(-1, time.monotonic())
        stats.answers.observe(code, time.monotonic() - now)
        if code >= 500:
            stats.errors += 1
        decode = grpc_predictions if copy.grpc else predictions
        answers = (copy.answered_code, copy.answered_body), (code, body)
        stats.verdicts[judge(*answers, decode=decode)] += 1
        self._log(copy, revision, code=code, answer=(body, content_type))

    async def _send_http(
        self, copy: Copy, address: str, revision: Revision
    ) -> tuple[int, bytes | None, str]:
        headers = [(k, v) for k, v in copy.headers if k.lower() not in _HOP]
        headers.append((SHADOW_HEADER.encode(), b"true"))
        try:
            answer = await self._http().request(
                copy.method,
                f"http://{address}{copy.url}",
                headers=headers,
                content=copy.body,
                timeout=revision.timeout_seconds,
            )
        except httpx.TimeoutException:
            return 504, None, ""
        except httpx.HTTPError:
            return 502, None, ""
        return answer.status_code, answer.content, answer.headers.get("content-type", "")

    async def _send_grpc(
        self, copy: Copy, address: str | None, revision: Revision
    ) -> tuple[int, bytes | None, str]:
        if address is None:  # the shadow release serves no gRPC
            return grpcwire.HTTP_CODE[grpcwire.UNIMPLEMENTED], None, ""
        if self._grpc is None:
            config = self.core.config
            limit = config.retry_body_bytes
            self._grpc = GrpcShadowSender(connect_timeout=config.connect_timeout, limit=limit)
        headers = [*copy.headers, (SHADOW_HEADER.encode(), b"true")]
        try:
            async with asyncio.timeout(revision.timeout_seconds):
                code, body = await self._grpc.call(address, headers, copy.body)
        except TimeoutError:
            return 504, None, ""
        return code, body, grpcwire.GRPC_CONTENT_TYPE.decode()

    def _log(
        self, copy: Copy, revision: Revision, *, code: int, answer: tuple[bytes | None, str]
    ) -> None:
        """The shadow's events, marked `shadow: true`, under the answered release's `ce-id`."""
        spec = revision.logger
        if spec is None:
            return
        flavor = FLAVORS[spec.flavor]
        origin = Origin(
            namespace=revision.namespace,
            service=revision.service,
            component=revision.component,
            release=revision.release,
            url=copy.url,
            traceparent=copy.traceparent,
        )
        (request, request_type), (body, content_type) = _as_logged(copy, answer)
        event_id = copy.event_id or new_id()
        events = []
        if spec.mode in ("all", "request"):
            event = make_event(
                origin,
                kind="request",
                event_id=event_id,
                data=request,
                content_type=request_type,
                flavor=flavor,
            )
            events.append(_marked(event))
        answered = body is not None and (flavor.failed_responses or code == 200)
        if spec.mode in ("all", "response") and body is not None and answered:
            event = make_event(
                origin,
                kind="response",
                event_id=event_id,
                data=body[: self.core.request_log.body_limit],
                content_type=content_type,
                flavor=flavor,
            )
            events.append(_marked(event))
        if events:
            self.core.request_log.emit(events, urls=spec.urls)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=PARALLEL, max_keepalive_connections=PARALLEL)
            self._client = httpx.AsyncClient(limits=limits, trust_env=False)
        return self._client

    async def close(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        if self._grpc is not None:
            self._grpc.close()
        if self._client is not None:
            await self._client.aclose()


def _as_logged(
    copy: Copy, answer: tuple[bytes | None, str]
) -> tuple[tuple[bytes, str], tuple[bytes | None, str]]:
    """The request's and the answer's body and type as the log shows them: a gRPC call's as
    the proxy logs calls (the message without its framing, application/x-protobuf)."""
    body, content_type = answer
    if not copy.grpc:
        return (copy.body, copy.content_type), answer
    request, kind = grpcwire.unframe(copy.body)
    if body is not None:
        body, answer_kind = grpcwire.unframe(body)
        content_type = answer_kind.decode()
    return (request, kind.decode()), (body, content_type)


def _marked(event: LogEvent) -> LogEvent:
    attributes: Mapping[str, str] = {**event.attributes, SHADOW_ATTRIBUTE: "true"}
    return LogEvent(attributes=attributes, data=event.data)
