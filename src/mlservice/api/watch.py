"""`?watch=true`: newline-delimited `{"type", "object"}` events, as the Kubernetes API streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from mlservice.api.selectors import Predicate
from mlservice.api.status import error_status
from mlservice.errors import Gone, InvalidInput
from mlservice.store import Scope, Store, Subscription, WatchEvent

# Kubernetes ends a watch after 30-60 minutes so clients re-list now and then; so do we.
DEFAULT_TIMEOUT_SECONDS = 1800.0


def parse_since(resource_version: str | None) -> int | None:
    """None for "" and "0" (Kubernetes: start with the current state), else the version."""
    if resource_version in (None, "", "0"):
        return None
    try:
        return int(resource_version)
    except ValueError:
        raise InvalidInput(
            f"resourceVersion {resource_version!r} is not a resourceVersion this server issued."
        ) from None


async def watch_response(
    store: Store,
    scope: Scope,
    *,
    resource_version: str | None,
    timeout_seconds: float | None,
    matches: Predicate | None,
) -> StreamingResponse:
    since = parse_since(resource_version)
    try:
        feed = await run_in_threadpool(store.watch, scope, since=since)
    except Gone as err:
        # Kubernetes answers 200 and reports expiry as an ERROR event; clients re-list on it.
        line = json.dumps({"type": "ERROR", "object": error_status(err)}) + "\n"
        return StreamingResponse(iter([line.encode()]), media_type="application/json")
    events = _stream(feed, duration=timeout_seconds or DEFAULT_TIMEOUT_SECONDS, matches=matches)
    return StreamingResponse(events, media_type="application/json")


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
