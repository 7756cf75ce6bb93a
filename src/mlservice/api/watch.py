"""`?watch=true`: newline-delimited `{"type", "object"}` events, as the Kubernetes API streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from mlservice.api.selectors import Predicate
from mlservice.api.status import error_status
from mlservice.errors import Gone, InvalidInput, ResourceVersionTooLarge
from mlservice.store import Scope, Store, Subscription, WatchEvent
from mlservice.store.objects import version_number

# Kubernetes ends a watch after 30-60 minutes so clients re-list now and then; so do we.
DEFAULT_TIMEOUT_SECONDS = 1800.0


def parse_since(resource_version: str | None) -> int | None:
    """None for "" and "0" (Kubernetes: start with the current state), else the version."""
    if resource_version == "0":
        return None
    try:
        return version_number(resource_version)
    except ValueError as err:
        raise InvalidInput(f"Invalid resourceVersion: {err}.") from None


async def watch_response(
    store: Store,
    scope: Scope,
    *,
    since: int | None,
    timeout_seconds: float | None,
    matches: Predicate | None,
) -> StreamingResponse:
    try:
        feed = await run_in_threadpool(store.watch, scope, since=since)
    except (Gone, ResourceVersionTooLarge) as err:
        # Kubernetes answers 200 and reports either as one ERROR event, then ends the stream;
        # clients list again on it.
        line = json.dumps({"type": "ERROR", "object": _error_object(err)}) + "\n"
        return StreamingResponse(iter([line.encode()]), media_type="application/json")
    events = _stream(feed, duration=timeout_seconds or DEFAULT_TIMEOUT_SECONDS, matches=matches)
    return StreamingResponse(events, media_type="application/json")


def _error_object(err: Gone | ResourceVersionTooLarge) -> dict[str, Any]:
    status = error_status(err)
    if isinstance(err, ResourceVersionTooLarge):
        # What client-go's `IsTooLargeResourceVersion` looks for.
        cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
        status["details"] = {"causes": [cause], "retryAfterSeconds": 1}
    return status


async def _stream(
    feed: Subscription, *, duration: float, matches: Predicate | None
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    try:
        while (remaining := deadline - loop.time()) > 0:
            # Bound only the wait, never a `yield`: a timeout must not fire inside the sender.
            try:
                async with asyncio.timeout(remaining):
                    event = await feed.aget()
            except TimeoutError:
                return
            if event is None:
                return
            if matches is None or matches(event.object()):
                yield _line(event)
    finally:
        feed.close()


def _line(event: WatchEvent) -> bytes:
    return b'{"type":"%s","object":%s}\n' % (event.type.value.encode(), event.body.encode())
