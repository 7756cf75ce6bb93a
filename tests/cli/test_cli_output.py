"""Pure pieces of the CLI: ages, tables, error lines, manifest loading."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from mlservice.cli.describe import render
from mlservice.cli.output import age, table
from mlservice.client import manifests
from mlservice.client.manifests import error_lines
from mlservice.errors import FieldCause, InvalidInput, InvalidObject, NotFound

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "shown"),
    [
        ("2024-05-01T11:59:15Z", "45s"),
        ("2024-05-01T11:48:00Z", "12m"),
        ("2024-05-01T11:00:00Z", "60m"),
        ("2024-05-01T10:00:00Z", "2h"),
        ("2024-05-01T07:00:00Z", "5h"),
        ("2024-04-28T12:00:00Z", "3d"),
        ("garbage", "<unknown>"),
        (None, "<unknown>"),
    ],
)
def test_age_reads_like_kubectl(created: str | None, shown: str) -> None:
    assert age(created, now=NOW) == shown


def test_error_lines_name_each_field() -> None:
    invalid = InvalidObject(
        "MLService default/x is invalid.",
        [FieldCause("spec.default", "required"), FieldCause("", "manifest is empty")],
    )
    assert error_lines(invalid) == ["error: spec.default: required", "error: manifest is empty"]
    assert error_lines(NotFound("MLService default/x not found.")) == [
        "error: MLService default/x not found."
    ]


def rendered(kind: str, items: list[dict[str, object]], **options: bool) -> list[list[str]]:
    out = io.StringIO()
    Console(file=out, width=250, no_color=True).print(table(kind, items, **options))
    return [line.split() for line in out.getvalue().splitlines()]


def test_mlservice_table_shows_readiness_url_and_traffic() -> None:
    svc = {
        "metadata": {"name": "mnist", "namespace": "team", "generation": 3},
        "spec": {"default": "v1", "canary": "v2", "canaryTrafficPercent": 10},
        "status": {
            "ready": True,
            "address": {"url": "http://mnist.team.localhost:8080"},
            "observedGeneration": 2,
            "releases": [{"name": "v1", "readyReplicas": 1, "totalReplicas": 2}],
        },
    }
    header, row = rendered("MLService", [svc], wide=True, namespaces=True)
    assert header == [
        "NAMESPACE",
        "NAME",
        "READY",
        "URL",
        "DEFAULT",
        "CANARY",
        "AGE",
        "RELEASES",
        "GENERATION",
    ]
    assert row == [
        "team",
        "mnist",
        "True",
        "http://mnist.team.localhost:8080",
        "v1",
        "v2",
        "(10%)",
        "<unknown>",
        "v1:1/2",
        "2/3",
    ]


def test_describe_reports_status_sections() -> None:
    svc = {
        "kind": "MLService",
        "metadata": {"name": "m", "namespace": "d"},
        "spec": {"default": "v1"},
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "CrashLoopBackOff"}],
            "releases": [{"name": "v1", "ready": False, "trafficPercent": 100}],
            "defaultRelease": "v1",
        },
    }
    text = render(svc, events=[])
    assert "  type=Ready  status=False  reason=CrashLoopBackOff" in text
    assert "  name=v1  ready=False  trafficPercent=100" in text
    assert "  defaultRelease: v1" in text


def test_describe_shows_the_shadow_agreement() -> None:
    shadow = {
        "release": "v2",
        "revision": "m-predict-v2-00001",
        "window": "300s",
        "sent": 50,
        "dropped": 1,
        "errors": 2,
        "agree": 45,
        "disagree": 3,
        "incomparable": 2,
        "agreement": 0.9375,
        "meanLatencyMs": 4.2,
    }
    svc = {"kind": "MLService", "metadata": {"name": "m"}, "status": {"shadow": shadow}}
    lines = render(svc, events=[]).splitlines()
    at = lines.index("Shadow:       v2 (m-predict-v2-00001), last 300s")
    assert lines[at + 1] == (
        "  agreement=93.8% (45 of 48)  sent=50  dropped=1  errors=2  incomparable=2"
        "  meanLatency=4.2ms"
    )
    assert "Status:" not in lines  # not shown twice


def test_manifests_load_files_directories_and_lists(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(
        "kind: Secret\nmetadata: {name: b}\n---\n---\nkind: Secret\nmetadata: {name: c}\n"
    )
    (tmp_path / "a.json").write_text(
        '{"kind": "List", "items": [{"kind": "Secret", "metadata": {"name": "a"}}]}'
    )
    (tmp_path / "notes.txt").write_text("not a manifest")
    loaded = manifests.load([tmp_path])
    assert [d.body["metadata"]["name"] for d in loaded] == ["a", "b", "c"]
    assert loaded[2].where == f"{tmp_path / 'b.yaml'} (document 3)"


def test_manifest_errors_name_the_source(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Secret\nmetadata: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"broken\.yaml is not valid YAML at line 3"):
        manifests.load([broken])
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(InvalidInput, match=r"scalar\.yaml document 1 is a str, not a mapping"):
        manifests.load([scalar])
    with pytest.raises(InvalidInput, match=r"-f .*missing\.yaml: no such file or directory"):
        manifests.load([tmp_path / "missing.yaml"])


def test_manifests_load_walks_subdirectories_and_refuses_an_empty_path(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "s.yaml").write_text("kind: Secret\nmetadata: {name: s}\n")
    (tmp_path / "top.yaml").write_text("kind: Secret\nmetadata: {name: t}\n")
    assert [d.body["metadata"]["name"] for d in manifests.load([tmp_path])] == ["s", "t"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInput, match=r"-f .*empty: no manifests found"):
        manifests.load([empty])


def test_predict_payload_from_json_text_a_json_file_or_raw_bytes(tmp_path: Path) -> None:
    from mlservice.cli.predict import read_payload

    assert read_payload('{"instances": [[1]]}', None) == {"instances": [[1]]}
    body = tmp_path / "body.json"
    body.write_text('{"instances": [[2]]}')
    assert read_payload(None, body) == {"instances": [[2]]}
    image = tmp_path / "3.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    assert read_payload(None, image) == b"\x89PNG\r\n\x1a\n\x00"
    with pytest.raises(InvalidInput, match="exactly one of -d JSON or -f FILE"):
        read_payload(None, None)
    with pytest.raises(InvalidInput, match=r"-f .*missing\.json: no such file or directory"):
        read_payload(None, tmp_path / "missing.json")
