"""Errors on the wire: every failure becomes a Kubernetes `Status` object, mapped once here."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlservice.errors import InvalidObject, MLServiceError
from mlservice.resources.kinds import KINDS

log = logging.getLogger(__name__)

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


def status_body(
    *,
    code: int,
    message: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def error_status(
    error: MLServiceError, path: str = "", *, name: str | None = None
) -> dict[str, Any]:
    """The Status for a domain error; `path` supplies `details.name/kind/group`, `name` the
    name when the path has none (a create names its object in the body)."""
    details = _details_from_path(path, invalid=isinstance(error, InvalidObject))
    if name and details and "name" not in details:
        details["name"] = name
    if isinstance(error, InvalidObject) and error.causes:
        details["causes"] = [
            {"field": c.field, "message": c.message, "reason": c.reason} for c in error.causes
        ]
    return status_body(
        code=error.status_code, message=error.message, reason=error.reason, details=details
    )


def _details_from_path(path: str, *, invalid: bool = False) -> dict[str, Any]:
    """Kubernetes names the resource (plural; the kind for an invalid object, whence kubectl's
    `The MLService "x" is invalid`) and object in `details`; recover them from the URL so
    domain errors need not carry HTTP context."""
    parts = [p for p in path.split("/") if p]
    for index, part in enumerate(parts):
        kind = next((k for k in KINDS if k.plural == part), None)
        if kind is None and part != "pods":  # pods: the replicas (`api/pods.py`), no KindInfo
            continue
        if kind is None:
            details: dict[str, Any] = {"kind": part}
        else:
            details = {"kind": kind.kind if invalid else kind.plural}
        if kind is not None and kind.group:
            details["group"] = kind.group
        if index + 1 < len(parts):
            details["name"] = parts[index + 1]
        return details
    return {}


def install(app: FastAPI) -> None:
    """Route every error the app can raise through `Status`."""

    async def domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MLServiceError)
        if exc.status_code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        name = getattr(request.state, "object_name", None)
        body = error_status(exc, request.url.path, name=name)
        return JSONResponse(body, status_code=exc.status_code)

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = (
            "the server could not find the requested resource"
            if exc.status_code == 404
            else str(exc.detail)
        )
        body = status_body(code=exc.status_code, message=message)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        causes = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())[1:]),
                "message": err.get("msg", ""),
                "reason": "FieldValueInvalid",
            }
            for err in exc.errors()
        ]
        fields = ", ".join(c["field"] for c in causes)
        body = status_body(
            code=400, message=f"Invalid request parameters: {fields}.", details={"causes": causes}
        )
        return JSONResponse(body, status_code=400)

    app.add_exception_handler(MLServiceError, domain)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_middleware(CrashGuard)


CRASH_MESSAGE = "Internal error; the mls up log has the details."
_FRAMES = 6


class CrashGuard:
    """ASGI middleware: an unexpected exception becomes a 500 Status and one log line.

    Starlette's own handler re-raises, and the server then logs the whole traceback with the
    exception's message: thousands of lines for a RecursionError, and a message that may quote
    the request body (a Secret's data). Here the line names the exception's type and where it
    was raised, never its message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error(
                "%s %s failed: %s at %s",
                scope.get("method", ""),
                scope.get("path", ""),
                type(exc).__name__,
                where(exc),
            )
            if started:  # a stream already under way: the connection just ends
                return
            body = status_body(code=500, message=CRASH_MESSAGE)
            await JSONResponse(body, status_code=500)(scope, receive, send)


def where(exc: BaseException) -> str:
    """The innermost frames of `exc`'s traceback, `file:line in function`, newest first."""
    frames = traceback.extract_tb(exc.__traceback__)[-_FRAMES:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(frames))
