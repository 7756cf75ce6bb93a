"""Server-side printing: a `meta.k8s.io` Table for a GET whose Accept asks for one (kubectl's
`get`), with the columns of `resources.columns`. Other requests are answered unchanged."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from mlservice.errors import InvalidInput
from mlservice.resources.columns import Column, server_columns, text
from mlservice.store import Obj

_TABLE_VERSIONS = ("v1", "v1beta1")
_INCLUDE = ("Object", "Metadata", "None")
_DESCRIPTIONS = {
    "NAME": "Name must be unique within a namespace.",
    "AGE": "CreationTimestamp is the time the object was created.",
}


def table_version(request: Request) -> str | None:
    """The Table version (`v1`, `v1beta1`) the Accept header prefers, or None when it prefers
    plain JSON (or names no Table), as the Kubernetes API server negotiates. A bad
    `includeObject` is refused here, before any work."""
    version = _negotiated(request)
    if version is not None:
        _include(request)
    return version


def _negotiated(request: Request) -> str | None:
    for offer in request.headers.get("accept", "").split(","):
        media, *params = (part.strip() for part in offer.split(";"))
        options = dict(p.split("=", 1) for p in params if "=" in p)
        if options.get("as") == "Table":
            if options.get("g") == "meta.k8s.io" and options.get("v") in _TABLE_VERSIONS:
                return options["v"]
            continue
        if media in ("application/json", "application/*", "*/*", ""):
            return None
    return None


def table_response(
    request: Request, version: str, *, kind: str, items: Sequence[Obj], resource_version: str
) -> JSONResponse:
    include = _include(request)
    body = table(kind, items, version=version, include=include, resource_version=resource_version)
    return JSONResponse(body, media_type=_media(version))


def table_watch(
    request: Request, version: str, *, kind: str, watch: StreamingResponse
) -> StreamingResponse:
    """`watch` with each event's object a one-row Table (an ERROR's Status left as it is)."""
    include = _include(request)

    async def events(lines: AsyncIterable[Any]) -> AsyncIterator[bytes]:
        async for line in lines:
            event = json.loads(line)
            obj = event["object"]
            if event["type"] != "ERROR":
                rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
                event["object"] = table(
                    kind, [obj], version=version, include=include, resource_version=rv
                )
            yield (json.dumps(event, separators=(",", ":")) + "\n").encode()

    return StreamingResponse(events(watch.body_iterator), media_type=_media(version))


def _include(request: Request) -> str:
    include = request.query_params.get("includeObject") or "Metadata"
    if include not in _INCLUDE:
        raise InvalidInput(f"includeObject must be one of {', '.join(_INCLUDE)}, not {include!r}.")
    return include


def _media(version: str) -> str:
    return f"application/json;as=Table;v={version};g=meta.k8s.io"


def table(
    kind: str,
    items: Sequence[Obj],
    *,
    version: str = "v1",
    include: str = "Metadata",
    resource_version: str = "",
) -> Obj:
    """The Table of `items` (objects of `kind`); `include` says what each row carries as its
    object: the whole object, its PartialObjectMetadata, or nothing."""
    columns = server_columns(kind)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": column.header,
                "type": column.type,
                "format": column.format,
                "description": _DESCRIPTIONS.get(column.header, ""),
                "priority": 1 if column.wide_only else 0,
            }
            for column in columns
        ],
        "rows": [_row(item, columns, include, version) for item in items],
    }


def _row(item: Obj, columns: Sequence[Column], include: str, version: str) -> Obj:
    row: Obj = {"cells": [_cell(column, item) for column in columns]}
    if include == "Object":
        row["object"] = item
    elif include == "Metadata":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": f"meta.k8s.io/{version}",
            "metadata": item.get("metadata") or {},
        }
    return row


def _cell(column: Column, item: Obj) -> Any:
    # The text `mls get` prints (a missing value blank); numbers stay numbers.
    value = column.value(item)
    return value if column.type == "integer" and isinstance(value, int) else text(value)
