"""One request-log CloudEvent, in the two encodings it travels in.

Binary HTTP mode (to sinks): attributes as `ce-*` headers, the payload as the body, exactly as
it was sent. JSON format (the local file): attributes as keys, a JSON payload under `data`,
any other payload base64-encoded under `data_base64`.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import orjson

REQUEST_TYPE = "tensorstack.dev.mlservice.request"
RESPONSE_TYPE = "tensorstack.dev.mlservice.response"
CONTEXT = ("specversion", "type", "source", "id", "time", "datacontenttype")
EXTENSIONS = ("component", "inferenceurl", "mlservicename", "namespace", "traceparent")

Kind = Literal["request", "response"]
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ' "%')


@dataclass(frozen=True)
class LogEvent:
    attributes: Mapping[str, str]  # CloudEvents attributes, extensions included
    data: bytes

    @property
    def id(self) -> str:
        return self.attributes["id"]


@dataclass(frozen=True)
class Origin:
    """Where a pair of events comes from; shared by the request and the response event."""

    namespace: str
    service: str
    component: str  # "predict" | "transform"
    release: str  # "" when unknown (a transformer whose predictor did not say)
    url: str  # the inference path, e.g. /v1/models/mnist:predict
    traceparent: str

    @property
    def source(self) -> str:
        """`{name}-{component}-{release}`, e.g. `torch-mnist-predict-v1`."""
        parts = (self.service, self.component, self.release)
        return "-".join(p for p in parts if p)


def new_id() -> str:
    return str(uuid.uuid4())


def make_event(
    origin: Origin, *, kind: Kind, event_id: str, data: bytes, content_type: str
) -> LogEvent:
    attributes = {
        "specversion": "1.0",
        "type": REQUEST_TYPE if kind == "request" else RESPONSE_TYPE,
        "source": origin.source,
        "id": event_id,
        "time": _now(),
        "component": origin.component,
        "inferenceurl": origin.url,
        "mlservicename": origin.service,
        "namespace": origin.namespace,
        "traceparent": origin.traceparent,
    }
    if content_type:
        attributes["datacontenttype"] = content_type
    return LogEvent(attributes=attributes, data=data)


def binary_headers(event: LogEvent) -> dict[str, str]:
    """Headers of binary content mode: `ce-` + attribute, and the content type as is.

    Values are percent-encoded where the HTTP binding asks (space, `"`, `%`, non-ASCII).
    """
    headers = {
        f"ce-{k}": quote(v, safe=_HEADER_SAFE)
        for k, v in event.attributes.items()
        if k != "datacontenttype"
    }
    headers["content-type"] = event.attributes.get("datacontenttype", "application/octet-stream")
    return headers


def to_json(event: LogEvent) -> dict[str, Any]:
    doc: dict[str, Any] = dict(event.attributes)
    if event.data:
        parsed = _json_payload(event)
        if parsed is not None:
            doc["data"] = parsed[0]
        else:
            doc["data_base64"] = base64.b64encode(event.data).decode()
    return doc


def from_json(doc: Mapping[str, Any]) -> LogEvent:
    attributes = {k: str(v) for k, v in doc.items() if k not in ("data", "data_base64")}
    if "data_base64" in doc:
        data = base64.b64decode(doc["data_base64"])
    elif "data" in doc:
        value = doc["data"]
        data = value.encode() if isinstance(value, str) else orjson.dumps(value)
    else:
        data = b""
    return LogEvent(attributes=attributes, data=data)


def _json_payload(event: LogEvent) -> tuple[Any] | None:
    """The payload as JSON when it says it is JSON and parses; None otherwise."""
    content_type = event.attributes.get("datacontenttype", "").split(";")[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")):
        return None
    try:
        return (orjson.loads(event.data),)
    except orjson.JSONDecodeError:
        return None


def _now() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )
