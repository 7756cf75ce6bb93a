"""errors.py -> gRPC status codes, once for every RPC; the message is the same one REST sends."""

from __future__ import annotations

import grpc

from mlservice.errors import (
    InvalidInput,
    MLServiceError,
    NotFound,
    NotImplementedByModel,
    PayloadTooLarge,
    Unavailable,
)

# First match wins; anything else (a model that raised, a bug) is INTERNAL.
_CODES: tuple[tuple[type[MLServiceError], grpc.StatusCode], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (NotImplementedByModel, grpc.StatusCode.UNIMPLEMENTED),
    # A transformer's predictor refused a body as too large: gRPC's own code for that.
    (PayloadTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
)


def code_of(exc: MLServiceError) -> grpc.StatusCode:
    return next((code for kind, code in _CODES if isinstance(exc, kind)), grpc.StatusCode.INTERNAL)
