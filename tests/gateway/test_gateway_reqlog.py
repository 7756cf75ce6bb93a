"""Request-log events: binary mode and JSON lines the cloudevents SDK reads, the local file,
and the human format of `mls logs --requests`."""

from __future__ import annotations

import base64
import datetime
import time
from pathlib import Path

import orjson
from cloudevents.core.bindings.http import HTTPMessage, from_binary_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from mlservice.gateway.reqlog import human, localfile
from mlservice.gateway.reqlog.events import (
    LogEvent,
    Origin,
    binary_headers,
    from_json,
    make_event,
    to_json,
)

ORIGIN = Origin(
    namespace="example",
    service="torch-mnist",
    component="predict",
    release="v1",
    url="/v1/models/mnist:predict",
    traceparent="00-9b81bc9a3531a1e4357e236054d86b47-546e4c891883d512-01",
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def _pair() -> tuple[LogEvent, LogEvent]:
    request = make_event(
        ORIGIN, kind="request", event_id="id-1", data=PNG, content_type="image/png"
    )
    response = make_event(
        ORIGIN,
        kind="response",
        event_id="id-1",
        data=b'{"predictions": [7]}',
        content_type="application/json",
    )
    return request, response


def test_binary_mode_headers_carry_the_design_attributes_and_the_sdk_reads_them() -> None:
    request, response = _pair()
    headers = binary_headers(request)
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-type"] == "tensorstack.dev.mlservice.request"
    assert headers["ce-source"] == "torch-mnist-predict-v1"
    assert headers["ce-id"] == "id-1"
    assert headers["ce-component"] == "predict"
    assert headers["ce-inferenceurl"] == "/v1/models/mnist:predict"
    assert headers["ce-mlservicename"] == "torch-mnist"
    assert headers["ce-namespace"] == "example"
    assert headers["ce-traceparent"] == ORIGIN.traceparent
    assert headers["content-type"] == "image/png"
    event = from_binary_event(HTTPMessage(headers=headers, body=PNG))
    assert event.get_type() == "tensorstack.dev.mlservice.request"
    assert event.get_data() == PNG
    assert event.get_extension("mlservicename") == "torch-mnist"
    answer = from_binary_event(HTTPMessage(headers=binary_headers(response), body=response.data))
    assert answer.get_id() == event.get_id()
    assert answer.get_data() == {"predictions": [7]}


def test_header_values_are_percent_encoded_where_the_binding_asks() -> None:
    odd = make_event(
        Origin("ns", "svc", "predict", "v1", "/a b%", "tp"),
        kind="request",
        event_id="x",
        data=b"",
        content_type="",
    )
    headers = binary_headers(odd)
    assert headers["ce-inferenceurl"] == "/a%20b%25"
    assert headers["content-type"] == "application/octet-stream"
    event = from_binary_event(HTTPMessage(headers=headers, body=b""))
    assert event.get_extension("inferenceurl") == "/a b%"


def test_json_lines_put_json_under_data_and_the_rest_under_data_base64() -> None:
    request, response = _pair()
    binary_doc = to_json(request)
    json_doc = to_json(response)
    assert base64.b64decode(binary_doc["data_base64"]) == PNG
    assert "data" not in binary_doc
    assert json_doc["data"] == {"predictions": [7]}
    for doc in (binary_doc, json_doc):
        event = JSONFormat().read(CloudEvent, orjson.dumps(doc))
        assert event.get_id() == "id-1"
    assert from_json(binary_doc).data == PNG
    assert orjson.loads(from_json(json_doc).data) == {"predictions": [7]}


def test_json_content_that_does_not_parse_goes_base64() -> None:
    event = make_event(
        ORIGIN, kind="request", event_id="i", data=b"{oops", content_type="application/json"
    )
    assert base64.b64decode(to_json(event)["data_base64"]) == b"{oops"


def test_the_local_file_is_one_event_a_line_named_by_date(tmp_path: Path) -> None:
    request, response = _pair()
    localfile.append(tmp_path, [request, response])
    today = datetime.datetime.now(datetime.UTC).date()
    path = localfile.file_for(tmp_path, today)
    assert path.name == f"mlservice-{today:%Y.%m.%d}.jsonl"
    assert len(path.read_bytes().splitlines()) == 2
    with path.open("ab") as out:
        out.write(b"not json\n")
    assert [d["type"].rsplit(".", 1)[1] for d in localfile.read_events(tmp_path)] == [
        "request",
        "response",
    ]


def test_follow_yields_only_new_complete_lines(tmp_path: Path) -> None:
    request, response = _pair()
    localfile.append(tmp_path, [request])
    stream = localfile.follow(tmp_path, poll=0.01, stop=time.monotonic() + 5)
    localfile.append(tmp_path, [response])
    assert next(stream)["type"] == "tensorstack.dev.mlservice.response"


def test_human_format_matches_the_reference_layout() -> None:
    request, response = _pair()
    text = human.format_event(to_json(response))
    lines = text.splitlines()
    assert lines[0] == "Context Attributes,"
    assert lines[1] == "  specversion: 1.0"
    assert lines[2] == "  type: tensorstack.dev.mlservice.response"
    assert lines[3] == "  source: torch-mnist-predict-v1"
    assert lines[4] == "  id: id-1"
    assert lines[5].startswith("  time: ")
    assert lines[6] == "  datacontenttype: application/json"
    assert lines[7] == "Extensions,"
    assert lines[8:13] == [
        "  component: predict",
        "  inferenceurl: /v1/models/mnist:predict",
        "  mlservicename: torch-mnist",
        "  namespace: example",
        f"  traceparent: {ORIGIN.traceparent}",
    ]
    assert lines[13] == "Data,"
    assert orjson.loads("\n".join(lines[14:])) == {"predictions": [7]}
    binary = human.format_event(to_json(request))
    assert "Data,\n  \ufffdPNG" in binary


def test_matches_filters_by_service_namespace_and_release() -> None:
    doc = to_json(_pair()[0])
    assert human.matches(doc, service="torch-mnist", namespace="example", release=None)
    assert human.matches(doc, service="torch-mnist", namespace="example", release="v1")
    assert not human.matches(doc, service="torch-mnist", namespace="example", release="v2")
    assert not human.matches(doc, service="torch-mnist", namespace="default", release=None)
