"""Python SDK: the control-plane API (objects, watch, readiness) and predictions via the gateway.

    from mlservice import Client

    with Client() as client:                  # address and token found as `mls` finds them
        client.apply(manifest)                # -> Applied(object, "created"|"configured"|...)
        client.wait_ready("mlservice", "torch-mnist", timeout=120)
        client.predict("torch-mnist", {"instances": [[1, 2]]})

`AsyncClient` has the same methods, awaitable. Failures raise the project's error tree:

    MLServiceError
     +-- InvalidInput (400)   +-- InvalidObject, alias Invalid (422; `.causes` name the fields)
     +-- Unauthorized (401)   +-- NotFound (404)   +-- Conflict (409)  +-- AlreadyExists
     +-- Gone (410)           +-- Unavailable (503; also: the API or gateway is unreachable)
     +-- WaitTimeout (504; also a TimeoutError)    +-- ApiError (any other status)
"""

from mlservice.client._async import AsyncClient
from mlservice.client._endpoints import Endpoints
from mlservice.client._plans import Applied, WaitTimeout, condition_status
from mlservice.client._sync import Client
from mlservice.client._wire import ApiError
from mlservice.errors import (
    AlreadyExists,
    Conflict,
    Gone,
    InvalidInput,
    InvalidObject,
    MLServiceError,
    NotFound,
    Unauthorized,
    Unavailable,
)

Invalid = InvalidObject

__all__ = [
    "AlreadyExists",
    "ApiError",
    "Applied",
    "AsyncClient",
    "Client",
    "Conflict",
    "Endpoints",
    "Gone",
    "Invalid",
    "InvalidInput",
    "InvalidObject",
    "MLServiceError",
    "NotFound",
    "Unauthorized",
    "Unavailable",
    "WaitTimeout",
    "condition_status",
]
