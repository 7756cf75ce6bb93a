"""Copying an exchange's bodies for the request log, up to a size cap."""

from __future__ import annotations

from typing import Protocol

from mlservice.gateway.reqlog.events import FLAVORS, LogEvent, Origin, make_event, new_id
from mlservice.gateway.snapshot import LoggerSpec, Revision


class Emit(Protocol):
    def __call__(self, events: list[LogEvent], *, urls: tuple[str, ...]) -> None: ...


class LoggedHead(Protocol):
    @property
    def traceparent(self) -> bytes: ...
    @property
    def content_type(self) -> bytes: ...


class LoggedAnswer(Protocol):
    @property
    def release(self) -> bytes | None: ...
    @property
    def content_type(self) -> bytes: ...


class Logged(Protocol):
    """What the events say about a request: an HTTP/1.1 exchange or a gRPC call."""

    @property
    def url(self) -> bytes: ...
    @property
    def code(self) -> int: ...
    @property
    def head(self) -> LoggedHead: ...
    @property
    def response(self) -> LoggedAnswer | None: ...


class Capture:
    __slots__ = (
        "_emit",
        "_flavor",
        "_limit",
        "_request",
        "_response",
        "_sizes",
        "revision",
        "spec",
    )

    def __init__(self, revision: Revision, spec: LoggerSpec, *, limit: int, emit: Emit) -> None:
        self.revision = revision
        self.spec = spec
        self._flavor = FLAVORS[spec.flavor]
        self._limit = limit
        self._emit = emit
        self._request: list[bytes] = []
        self._response: list[bytes] = []
        self._sizes = [0, 0]

    def request(self, data: bytes) -> None:
        self._keep(self._request, 0, data)

    def response(self, data: bytes) -> None:
        self._keep(self._response, 1, data)

    def _keep(self, into: list[bytes], which: int, data: bytes) -> None:
        room = self._limit - self._sizes[which]
        if room > 0:
            piece = data[:room]
            into.append(piece)
            self._sizes[which] += len(piece)

    def done(self, exchange: Logged) -> str:
        """Emit the events `mode` asks for; a request never answered logs no response, nor
        (in a flavor that says so) one answered with anything but 200. Returns the events'
        `id` (a shadow copy's events share it)."""
        revision = self.revision
        flavor = self._flavor
        response = exchange.response
        answered = response.release if response is not None else None
        release = revision.release or (answered.decode("latin-1") if answered else "")
        origin = Origin(
            namespace=revision.namespace,
            service=revision.service,
            component=revision.component,
            release=release,
            url=exchange.url.decode("latin-1"),
            traceparent=exchange.head.traceparent.decode("latin-1"),
        )
        event_id = new_id()
        events = []
        if self.spec.mode in ("all", "request"):
            content_type = exchange.head.content_type.decode("latin-1")
            events.append(
                make_event(
                    origin,
                    kind="request",
                    event_id=event_id,
                    data=b"".join(self._request),
                    content_type=content_type,
                    flavor=flavor,
                )
            )
        logs_response = flavor.failed_responses or exchange.code == 200
        if self.spec.mode in ("all", "response") and response is not None and logs_response:
            events.append(
                make_event(
                    origin,
                    kind="response",
                    event_id=event_id,
                    data=b"".join(self._response),
                    content_type=response.content_type.decode("latin-1"),
                    flavor=flavor,
                )
            )
        if events:
            self._emit(events, urls=self.spec.urls)
        return event_id
