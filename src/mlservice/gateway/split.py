"""The traffic split: which backend of a route serves one request."""

from __future__ import annotations

import random
from collections.abc import Sequence

from mlservice.gateway.snapshot import Backend


def pick(backends: Sequence[Backend], roll: float) -> Backend | None:
    """The backend whose share of [0, 100) holds `roll`; None when no backend has weight.

    Backends are laid end to end in order, each `percent` wide, so a uniform `roll` lands in
    each with probability `percent / 100`.
    """
    edge = 0
    for backend in backends:
        edge += backend.percent
        if roll < edge:
            return backend
    return None


def choose(backends: Sequence[Backend]) -> Backend | None:
    """Per-request choice; a single backend skips the roll (the common case)."""
    if len(backends) == 1:
        only = backends[0]
        return only if only.percent > 0 else None
    return pick(backends, random.random() * 100.0)
