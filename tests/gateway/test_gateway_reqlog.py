"""Request-log events: binary mode and JSON lines the cloudevents SDK reads, the local file,
and the human format of `mls logs --requests`."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import time
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_binary_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from mlservice.gateway.reqlog import human, localfile
from mlservice.gateway.reqlog.capture import Capture
from mlservice.gateway.reqlog.events import (
    FLAVORS,
    KSERVE,
    MLSERVICE,
    LogEvent,
    Origin,
    binary_headers,
    from_json,
    make_event,
    to_json,
)
from mlservice.gateway.snapshot import EventFlavor, LoggerMode, LoggerSpec, Revision

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


def _kserve_pair(component: str = "predict") -> tuple[LogEvent, LogEvent]:
    origin = dataclasses.replace(ORIGIN, service="sklearn-iris", component=component, release="")
    request, response = (
        make_event(
            origin,
            kind=kind,
            event_id="id-2",
            data=b'{"instances": [[6.8, 2.8, 4.8, 1.4]]}',
            content_type="application/json",
            flavor=KSERVE,
        )
        for kind in ("request", "response")
    )
    return request, response


def test_kserve_flavor_sends_kserve_agents_attributes_and_nothing_of_ours() -> None:
    request, response = _kserve_pair()
    headers = binary_headers(request)
    assert {k: v for k, v in headers.items() if k != "ce-time"} == {
        "ce-specversion": "1.0",
        "ce-type": "org.kubeflow.serving.inference.request",
        "ce-source": "http://localhost:9081/",
        "ce-id": "id-2",
        "ce-inferenceservicename": "sklearn-iris",
        "ce-namespace": "example",
        "ce-component": "predictor",
        "ce-endpoint": "",
        "ce-metadata": "{}",
        "content-type": "application/json",
    }
    answer = binary_headers(response)
    assert answer["ce-type"] == "org.kubeflow.serving.inference.response"
    assert answer["ce-id"] == headers["ce-id"]
    event = from_binary_event(HTTPMessage(headers=answer, body=response.data))
    assert event.get_extension("inferenceservicename") == "sklearn-iris"
    assert event.get_extension("component") == "predictor"
    assert event.get_source() == "http://localhost:9081/"
    transformer = binary_headers(_kserve_pair("transform")[0])
    assert transformer["ce-component"] == "transformer"


def test_the_default_flavor_is_ours() -> None:
    assert FLAVORS["mlservice"] is MLSERVICE
    assert binary_headers(_pair()[0])["ce-type"] == MLSERVICE.types["request"]


def test_kserve_events_show_and_match_by_the_inferenceservice_name(tmp_path: Path) -> None:
    request, response = _kserve_pair()
    localfile.append(tmp_path, [request, response])
    docs = list(localfile.read_events(tmp_path))
    assert [d["type"] for d in docs] == [
        "org.kubeflow.serving.inference.request",
        "org.kubeflow.serving.inference.response",
    ]
    doc = docs[1]
    assert doc["data"] == {"instances": [[6.8, 2.8, 4.8, 1.4]]}
    assert human.matches(doc, service="sklearn-iris", namespace="example", release=None)
    assert not human.matches(doc, service="sklearn-iris", namespace="default", release=None)
    assert not human.matches(doc, service="torch-mnist", namespace="example", release=None)
    assert not human.matches(doc, service="sklearn-iris", namespace="example", release="v1")
    lines = human.format_event(doc).splitlines()
    extensions = lines[lines.index("Extensions,") + 1 : lines.index("Data,")]
    assert extensions == [
        "  component: predictor",
        "  endpoint: ",
        "  inferenceservicename: sklearn-iris",
        "  metadata: {}",
        "  namespace: example",
    ]


def _captured(flavor: EventFlavor, *, code: int, mode: LoggerMode = "all") -> list[LogEvent]:
    """The events one exchange answered with `code` emits, through `Capture`."""
    spec = LoggerSpec(urls=("http://sink/",), mode=mode, flavor=flavor)
    revision = Revision(
        id="example/iris-predictor-00001",
        namespace="example",
        service="iris",
        component="predict",
        release="iris-predictor-00001",
        logger=spec,
    )
    emitted: list[LogEvent] = []
    capture = Capture(revision, spec, limit=1024, emit=lambda events, urls: emitted.extend(events))
    capture.request(b'{"instances": []}')
    capture.response(b'{"error": "no"}' if code != 200 else b'{"predictions": []}')
    head = SimpleNamespace(traceparent=b"00-aa-bb-01", content_type=b"application/json")
    response = SimpleNamespace(release=b"", content_type=b"application/json")
    exchange = SimpleNamespace(
        head=head, response=response, code=code, url=b"/v1/models/iris:predict"
    )
    capture.done(exchange)  # type: ignore[arg-type]
    return emitted


@pytest.mark.parametrize("mode", ["all", "request", "response"])
def test_capture_honours_the_mode_in_both_flavors(mode: LoggerMode) -> None:
    wanted = {"all": ["request", "response"], "request": ["request"], "response": ["response"]}
    for flavor in ("mlservice", "kserve"):
        events = _captured(flavor, code=200, mode=mode)
        assert [e.attributes["type"].rsplit(".", 1)[1] for e in events] == wanted[mode]
        assert len({e.id for e in events}) == 1
        assert all(e.attributes["type"] in FLAVORS[flavor].types.values() for e in events)


def test_kserve_logs_no_response_to_a_failed_request_and_ours_does() -> None:
    assert [e.attributes["type"] for e in _captured("kserve", code=500)] == [
        "org.kubeflow.serving.inference.request"
    ]
    assert [e.attributes["type"] for e in _captured("mlservice", code=500)] == [
        "tensorstack.dev.mlservice.request",
        "tensorstack.dev.mlservice.response",
    ]
    kserve = _captured("kserve", code=200)
    assert kserve[1].data == b'{"predictions": []}'
    assert kserve[0].attributes["source"] == "http://localhost:9081/"
    ours = _captured("mlservice", code=200)
    assert ours[0].attributes["source"] == "iris-predict-iris-predictor-00001"
    assert ours[0].attributes["inferenceurl"] == "/v1/models/iris:predict"
