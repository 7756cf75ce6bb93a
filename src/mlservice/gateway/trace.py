"""W3C trace context: a `traceparent` for requests that arrive without one."""

from __future__ import annotations

import random
import re

_random = random.Random()  # seeded from os.urandom once
_VALID = re.compile(rb"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_traceparent() -> bytes:
    """`00-{trace id}-{parent id}-01`: version 00, random ids, sampled.

    Ids need to be unique, not secret: the process's PRNG saves a getrandom syscall a request.
    """
    ids = f"{_random.getrandbits(192):048x}"
    return f"00-{ids[:32]}-{ids[32:]}-01".encode()


def is_valid(value: bytes) -> bool:
    """A well-formed header; an all-zero trace or parent id is invalid per the spec."""
    if not _VALID.match(value):
        return False
    return value[3:35] != b"0" * 32 and value[36:52] != b"0" * 16
