"""The shared shell of every inference endpoint: context, error mapping, headers, metrics.

Errors from `errors.py` become `{"error": ...}` with their status here, once for all REST
routes; anything else is a bug in mlservice and is logged, never sent as a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mlservice.errors import InferenceError, MLServiceError, PayloadTooLarge
from mlservice.server import context
from mlservice.server.codecs.payload import Encoded
from mlservice.server.dataplane import DataPlane
from mlservice.server.forward import RELEASE_HEADER
from mlservice.server.rest.responses import encoded_response, error_response

log = logging.getLogger("mlservice.server")
Work = Callable[[], Awaitable[Encoded]]
CLIENT_CLOSED = 499  # nginx's status for a client gone before its answer; only in metrics


@dataclass(frozen=True, slots=True)
class RestSettings:
    max_body_bytes: int = 64 * 1024 * 1024
    release: str | None = None  # MLS_RELEASE: sent as x-mls-release unless a predictor's wins


async def handle(
    request: Request,
    *,
    dataplane: DataPlane,
    settings: RestSettings,
    protocol: str,
    model: str,
    work: Work,
) -> Response:
    started = time.perf_counter()
    scope = request.scope
    query = scope.get("query_string", b"")
    path = scope["path"] + ("?" + query.decode() if query else "")
    ctx = context.RequestContext(path, protocol)
    token = context.current.set(ctx)
    try:
        encoded = await work()
        headers = ctx.response_headers
        if settings.release is not None and RELEASE_HEADER not in headers:
            headers[RELEASE_HEADER] = settings.release
        response = encoded_response(encoded, headers)
    except MLServiceError as exc:
        response = error_response(exc)
        if isinstance(exc, PayloadTooLarge):
            # The body was refused unread: the connection cannot carry another request.
            response.headers["connection"] = "close"
    except ClientDisconnect:
        # Gone before its body arrived (or cut off by the read timeout): no one to answer.
        response = Response(status_code=CLIENT_CLOSED)
    except Exception as exc:
        log.exception("internal error serving model %s", model)
        response = error_response(
            InferenceError(f"Internal error serving model {model}: {type(exc).__name__}: {exc}")
        )
    finally:
        context.current.reset(token)
    label = model if dataplane.serves(model) else "<unknown>"  # bounded label values
    dataplane.metrics.observe_request(
        label, protocol, response.status_code, time.perf_counter() - started
    )
    return response
