"""The request log's CloudEvents as a sink received them: an upstream started as the sink
(`gateway_procs.start_upstream("sink", ...)`) records each POST to `/events`."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cloudevents.core.bindings.http import HTTPMessage, from_binary_event

from tests.gateway.gateway_procs import Proc
from tests.support.polling import wait_until


def sink_records(sink: Proc, count: int = 2) -> list[dict[str, Any]]:
    """The sink's records (headers, base64 body) once it holds `count` (10 s at most)."""

    def enough() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = httpx.get(f"{sink.urls[0]}/events").json()
        return got if len(got) >= count else []

    return wait_until(enough, timeout=10, message=f"{count} events at the sink")


def request_and_response(records: list[dict[str, Any]]) -> tuple[Any, Any]:
    """One request's pair of events among the records: its request and its response event,
    which carry the same id."""
    events = [
        from_binary_event(HTTPMessage(headers=e["headers"], body=base64.b64decode(e["body"])))
        for e in records
    ]
    request = next(e for e in events if e.get_type() == "tensorstack.dev.mlservice.request")
    response = next(e for e in events if e.get_type() == "tensorstack.dev.mlservice.response")
    assert request.get_id() == response.get_id()
    return request, response
