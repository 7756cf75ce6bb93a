"""Bounds on what a manifest may hold: nesting depth, integer ranges, replica counts.

The API checks depth before anything recursive (copying, merging, validating) touches a body.
Every integer must fit the 64-bit type Kubernetes' own fields have; typed fields carry tighter
bounds, named here so the controllers clamp to the same numbers validation enforces.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlservice.errors import FieldCause

MAX_DEPTH = 64
"""Objects and lists nested inside each other; real manifests stay under 20."""
MAX_REPLICAS = 1000
"""minReplicas, maxReplicas and a SimpleMLService's replicas: far past what one machine runs."""
MAX_CONTAINER_CONCURRENCY = 1000
"""Knative's own ceiling for containerConcurrency."""
MAX_TIMEOUT_SECONDS = 3600
"""A predictor's timeoutSeconds; Knative's max-revision-timeout-seconds defaults to 600, but a
local model may take longer (a batch through a large model), so an hour, as its window cap."""
MAX_PROBE_SECONDS = 3600
"""A probe's initialDelaySeconds, periodSeconds and timeoutSeconds."""
MAX_PROBE_THRESHOLD = 1000
"""A probe's successThreshold and failureThreshold."""
MAX_PRIORITY = 2**31 - 1
"""A runtime's priority for a model format (int32, as KServe's)."""
MAX_INT32 = 2**31 - 1
"""Fields KServe declares as int32 (scaleTarget) and no tighter bound fits."""
MAX_BATCH_SIZE = 4096
"""A batcher's maxBatchSize: requests merged into one predict call; far past what one model
process turns into a useful batch."""
MAX_BATCH_LATENCY_MS = 600_000
"""A batcher's maxLatency and timeout, in milliseconds: ten minutes, past any request timeout."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def too_deep(value: Any, *, limit: int = MAX_DEPTH) -> str | None:
    """The path of the first object or list nested deeper than `limit`, or None.

    Iterative, so it is safe on any depth the JSON parser returned."""
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict):
            children: Iterator[tuple[str, Any]] = ((str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            children = ((f"[{i}]", v) for i, v in enumerate(item))
        else:
            continue
        if depth > limit:
            return render_path(path)
        stack.extend((v, depth + 1, (*path, part)) for part, v in children)
    return None


def integer_causes(value: Any, *, path: str = "") -> list[FieldCause]:
    """A cause for every integer in `value` outside the 64-bit range (booleans are not ints)."""
    causes = []
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, (path,) if path else ())]
    while stack:
        item, parts = stack.pop()
        if isinstance(item, dict):
            stack.extend(((v, (*parts, str(k))) for k, v in item.items()))
        elif isinstance(item, list):
            stack.extend(((v, (*parts, f"[{i}]")) for i, v in enumerate(item)))
        elif _oversized(item):
            message = f"{_short(item)} does not fit in a 64-bit integer"
            causes.append(FieldCause(render_path(parts), message))
    return sorted(causes, key=lambda c: c.field)


def render_path(parts: tuple[str, ...], *, width: int = 200) -> str:
    """`a.b[0].c` from its parts, cut to `width` characters (keys may be long)."""
    text = "".join(p if p.startswith("[") or not i else f".{p}" for i, p in enumerate(parts))
    return text if len(text) <= width else text[: width - 3] + "..."


def _oversized(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not (INT64_MIN <= value <= INT64_MAX)
    )


def _short(number: int) -> str:
    # str() of a very long int is slow (and refused past 4300 digits); its size says enough.
    return str(number) if number.bit_length() <= 128 else f"a {number.bit_length()}-bit number"
