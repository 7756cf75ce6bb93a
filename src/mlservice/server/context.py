"""What the REST edge knows about the request in flight, for code deep inside a model call.

A transformer forwards to the path it received and copies the predictor's `x-mls-release`
onto its own answer; both need the request around them without widening the `Model` API.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestContext:
    path: str
    protocol: str
    response_headers: dict[str, str] = field(default_factory=dict)


current: ContextVar[RequestContext | None] = ContextVar("mls_request", default=None)
