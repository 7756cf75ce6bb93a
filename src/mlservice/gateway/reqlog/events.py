"""One request-log CloudEvent, in the two encodings it travels in.

Binary HTTP mode (to sinks): attributes as `ce-*` headers, the payload as the body, exactly as
it was sent. JSON format (the local file): attributes as keys, a JSON payload under `data`,
any other payload base64-encoded under `data_base64`.

Two flavors of the same events, chosen per revision by its `LoggerSpec.flavor` and held as
data (`FLAVORS`): ours, as the design names them, and KServe's, as its agent
(`pkg/logger/` in kserve/kserve) sends them for an InferenceService, so that sinks written for
KServe read ours unchanged.
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

from mlservice.gateway.snapshot import EventFlavor

Kind = Literal["request", "response"]
REQUEST_TYPE = "tensorstack.dev.mlservice.request"
RESPONSE_TYPE = "tensorstack.dev.mlservice.response"
CONTEXT = ("specversion", "type", "source", "id", "time", "datacontenttype")
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


@dataclass(frozen=True)
class Flavor:
    """What tells one family of request-log events from another: names and fixed values."""

    types: Mapping[Kind, str]  # ce-type by event kind
    service_attribute: str  # the extension naming the service
    components: Mapping[str, str]  # ce-component by our component ("predict" | "transform")
    source: str  # a fixed ce-source; "" for the origin's `{name}-{component}-{release}`
    per_request: tuple[tuple[str, str], ...]  # (extension, Origin field) taken per request
    constants: Mapping[str, str]  # extensions with one value for every event
    failed_responses: bool  # whether an answer other than 200 is logged


MLSERVICE = Flavor(
    types={"request": REQUEST_TYPE, "response": RESPONSE_TYPE},
    service_attribute="mlservicename",
    components={"predict": "predict", "transform": "transform"},
    source="",
    per_request=(("inferenceurl", "url"), ("traceparent", "traceparent")),
    constants={},
    failed_responses=True,
)
KSERVE = Flavor(
    types={
        "request": "org.kubeflow.serving.inference.request",
        "response": "org.kubeflow.serving.inference.response",
    },
    service_attribute="inferenceservicename",
    components={"predict": "predictor", "transform": "transformer"},
    # KServe's agent is started with `--source-uri` set to the pod's name as its admission
    # webhook sees it, which is empty for a Deployment's or Knative's pods (their names are
    # generated later), so the agent falls back to its own address.
    source="http://localhost:9081/",
    per_request=(),
    constants={
        # The `endpoint` label ("default" | "canary" in KFServing) is no longer set on
        # v1beta1 pods: the agent sends it empty.
        "endpoint": "",
        # The request headers named by `logger.metadataHeaders`, as JSON; none are kept here.
        "metadata": "{}",
    },
    # The agent logs a response only when the component answered 200.
    failed_responses=False,
)
FLAVORS: Mapping[EventFlavor, Flavor] = {"mlservice": MLSERVICE, "kserve": KSERVE}
EXTENSIONS = tuple(
    sorted(
        {"component", "namespace"}
        | {f.service_attribute for f in FLAVORS.values()}
        | {name for f in FLAVORS.values() for name, _ in f.per_request}
        | {name for f in FLAVORS.values() for name in f.constants}
    )
)
"""Every flavor's extensions, in the order people read them (alphabetical, as KServe's
`event_display` prints them)."""
SERVICE_ATTRIBUTES = tuple(f.service_attribute for f in FLAVORS.values())


def new_id() -> str:
    return str(uuid.uuid4())


def make_event(
    origin: Origin,
    *,
    kind: Kind,
    event_id: str,
    data: bytes,
    content_type: str,
    flavor: Flavor = MLSERVICE,
) -> LogEvent:
    attributes = {
        "specversion": "1.0",
        "type": flavor.types[kind],
        "source": flavor.source or origin.source,
        "id": event_id,
        "time": _now(),
        "component": flavor.components.get(origin.component, origin.component),
        flavor.service_attribute: origin.service,
        "namespace": origin.namespace,
        **flavor.constants,
    }
    for name, field in flavor.per_request:
        attributes[name] = getattr(origin, field)
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
