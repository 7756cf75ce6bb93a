"""Building responses: JSON via orjson, encoded inference bodies, and `{"error": ...}`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from mlservice.errors import MLServiceError
from mlservice.server.codecs.payload import JSON, Encoded


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON)


def error_response(exc: MLServiceError) -> Response:
    return json_response({"error": exc.message}, exc.status_code)


def encoded_response(encoded: Encoded, headers: dict[str, str]) -> Response:
    if encoded.header_length is not None:
        headers["inference-header-content-length"] = str(encoded.header_length)
    return Response(encoded.body, media_type=encoded.content_type, headers=headers)
