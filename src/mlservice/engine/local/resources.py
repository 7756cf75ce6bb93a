"""What a container's `resources` become locally.

`limits.memory` -> the RSS watchdog's limit; `limits.cpu` -> CPU affinity over ceil(cpu)
cores; `nvidia.com/gpu` -> whole GPUs by `CUDA_VISIBLE_DEVICES` (`gpus`). Everything else
(ephemeral-storage, ...) cannot be enforced here and is reported as a warning instead of being
dropped silently.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from mlservice.engine.local.gpus import GPU_RESOURCE, gpu_count
from mlservice.engine.local.quantity import parse_bytes, parse_cpu
from mlservice.runtime import RenderedContainer

ENFORCED_LIMITS = frozenset({"cpu", "memory", GPU_RESOURCE})
SCHEDULING_REQUESTS = frozenset({"cpu", "memory", GPU_RESOURCE})


@dataclass(frozen=True)
class ResourcePlan:
    memory_limit: int | None  # bytes
    cpu_cores: int | None  # how many cores to pin the process to
    warnings: tuple[str, ...]
    gpus: int = 0  # whole GPUs the container needs before it may start


def plan_resources(container: RenderedContainer) -> ResourcePlan:
    """Raises InvalidInput naming the field when a quantity is malformed."""
    where = f"containers[{container.name}].resources"
    limits, requests = container.resources.limits, container.resources.requests
    memory = limits.get("memory")
    memory_limit = parse_bytes(memory, field=f"{where}.limits.memory") if memory else None
    warnings = [
        f"{where}.{kind}.{name}={value} is not enforced by the local engine"
        for kind, values, known in (
            ("limits", limits, ENFORCED_LIMITS),
            ("requests", requests, SCHEDULING_REQUESTS),
        )
        for name, value in values.items()
        if name not in known
    ]
    cpu_cores, cpu_warnings = _cpu_plan(where, limits.get("cpu"), requests.get("cpu"))
    # Kubernetes takes a GPU request only equal to its limit, and the limit alone means both.
    gpus = gpu_count(limits if GPU_RESOURCE in limits else requests, where=where)
    return ResourcePlan(memory_limit, cpu_cores, (*warnings, *cpu_warnings), gpus)


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pick_cpus(count: int, *, offset: int) -> frozenset[int]:
    """`count` cores, starting at `offset` (rotated per replica so pinned replicas spread)."""
    cpus = available_cpus()
    return frozenset(cpus[(offset + i) % len(cpus)] for i in range(min(count, len(cpus))))


def _cpu_plan(where: str, limit: str | None, request: str | None) -> tuple[int | None, list[str]]:
    warnings = []
    machine = len(available_cpus())
    if request is not None and parse_cpu(request, field=f"{where}.requests.cpu") > machine:
        warnings.append(f"{where}.requests.cpu={request} exceeds the {machine} CPUs available")
    if limit is None:
        return None, warnings
    cores = math.ceil(parse_cpu(limit, field=f"{where}.limits.cpu"))
    if cores > machine:
        warnings.append(f"{where}.limits.cpu={limit} is capped at the {machine} CPUs available")
    return max(1, min(cores, machine)), warnings
