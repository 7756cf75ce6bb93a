"""errors.py -> gRPC status codes, once for every RPC; the message is the same one REST sends."""

from __future__ import annotations

from mlservice.errors import (
    InvalidInput,
    MLServiceError,
    NotFound,
    NotImplementedByModel,
    PayloadTooLarge,
    Unavailable,
)
from mlservice.h2c.grpcwire import (
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    UNIMPLEMENTED,
)

# First match wins; anything else (a model that raised, a bug) is INTERNAL.
_CODES: tuple[tuple[type[MLServiceError], int], ...] = (
    (InvalidInput, INVALID_ARGUMENT),
    (NotFound, NOT_FOUND),
    (Unavailable, UNAVAILABLE),
    (NotImplementedByModel, UNIMPLEMENTED),
    # A transformer's predictor refused a body as too large: gRPC's own code for that.
    (PayloadTooLarge, RESOURCE_EXHAUSTED),
)


def code_of(exc: MLServiceError) -> int:
    return next((code for kind, code in _CODES if isinstance(exc, kind)), INTERNAL)
