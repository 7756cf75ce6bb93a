"""The console's server side in process: the open shell, the session cookie and its CSRF
header, the request log's pairs and filters, YAML parsing and the metrics endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from mlservice.api.app import create_app
from mlservice.api.auth import SESSION_COOKIE, session_value
from mlservice.api.metrics_history import MetricsHistory, ReleaseKey, Totals
from mlservice.home import Home
from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import MLSVCS, AppClient, mlservice

TOKEN = "t0k"
MakeClient = Callable[..., AppClient]


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore.in_memory(event_retention=10)
    yield opened
    opened.close()


@pytest.fixture
def history() -> MetricsHistory:
    return MetricsHistory(points=10, interval=1.0)


@pytest.fixture
def make(tmp_path: Path, store: SqliteStore, history: MetricsHistory) -> Iterator[MakeClient]:
    made: list[AppClient] = []

    def client(headers: Mapping[str, str] | None = None) -> AppClient:
        app = create_app(store=store, home=Home(tmp_path), token=TOKEN, metrics=history)
        made.append(AppClient(app, dict(headers or {})))
        return made[-1]

    yield client
    for c in made:
        c.close()


def cookie(value: str = "") -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value or session_value(TOKEN)}"}


def test_the_shell_is_open_and_holds_no_data(make: MakeClient) -> None:
    anonymous = make()
    shell = anonymous.get("/ui/")
    assert shell.status_code == 200
    assert "text/html" in shell.headers["content-type"]
    assert "script-src 'self'" in shell.headers["content-security-policy"]
    assert anonymous.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert anonymous.get("/ui/..%2Fconsole.py").status_code == 404
    assert anonymous.get("/ui/__init__.py").status_code == 404
    for data in (MLSVCS, "/console/v1/session", "/console/v1/metrics?namespace=a&service=b"):
        assert anonymous.get(data).status_code == 401, data


def test_the_token_is_traded_for_a_strict_httponly_cookie(make: MakeClient) -> None:
    anonymous = make()
    wrong = anonymous.post("/ui/session", json={"token": "nope"})
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    right = anonymous.post("/ui/session", json={"token": TOKEN})
    assert right.status_code == 204
    set_cookie = right.headers["set-cookie"]
    assert set_cookie.startswith(f"{SESSION_COOKIE}={session_value(TOKEN)};")
    assert "HttpOnly" in set_cookie
    assert "SameSite=strict" in set_cookie
    assert TOKEN not in set_cookie.split(";")[0]


def test_the_cookie_reads_and_writes_only_with_the_console_header(make: MakeClient) -> None:
    with_cookie = make(cookie())
    assert with_cookie.get("/console/v1/session").json() == {"authenticated": True}
    assert with_cookie.get(MLSVCS).status_code == 200
    forged = with_cookie.post(MLSVCS, json=mlservice("a"))
    assert forged.status_code == 403
    assert forged.json()["reason"] == "Forbidden"
    made = with_cookie.post(MLSVCS, json=mlservice("a"), headers={"X-MLS-Console": "1"})
    assert made.status_code == 201
    stale = make(cookie("0" * 64))
    assert stale.get(MLSVCS).status_code == 401


def test_a_bearer_token_needs_no_console_header(make: MakeClient) -> None:
    cli = make({"Authorization": f"Bearer {TOKEN}"})
    assert cli.post(MLSVCS, json=mlservice("a")).status_code == 201
    wrong = make({"Authorization": "Bearer nope", **cookie()})
    assert wrong.get(MLSVCS).status_code == 401  # a wrong token is not rescued by the cookie


def _event(
    kind: str, event_id: str, release: str, *, trace: str = "", **extra: object
) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "type": f"tensorstack.dev.mlservice.{kind}",
        "source": f"iris-predict-{release}",
        "id": event_id,
        "time": "2026-12-06T10:00:00Z",
        "component": "predict",
        "mlservicename": "iris",
        "namespace": "default",
        "inferenceurl": "/v1/models/iris:predict",
        "traceparent": f"00-{trace or '0' * 32}-{'1' * 16}-01",
        "datacontenttype": "application/json",
        **extra,
    }


def test_the_request_log_pairs_events_newest_first_with_filters(
    make: MakeClient, tmp_path: Path
) -> None:
    folder = Home(tmp_path).request_logs
    folder.mkdir(parents=True)
    events = [
        _event("request", "a", "v1", data={"instances": [[1]]}),
        _event("response", "a", "v1", data={"predictions": [0]}),
        _event("request", "b", "v2", trace="ab" * 16),
        _event("request", "c", "v1"),
        _event("response", "c", "v1", data_base64="iVBORw0K", datacontenttype="image/png"),
        {**_event("request", "d", "v1"), "mlservicename": "other"},
    ]
    (folder / "mlservice-2026.12.06.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events)
    )
    api = make(cookie())

    def ids(**params: str) -> list[str]:
        answer = api.get(
            "/console/v1/requests", params={"namespace": "default", "service": "iris", **params}
        )
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids() == ["c", "b", "a"]
    assert ids(release="v2") == ["b"]
    assert ids(status="answered") == ["c", "a"]
    assert ids(status="unanswered") == ["b"]
    assert ids(q="ab" * 16) == ["b"]  # the trace id a client sent
    assert ids(limit="1") == ["c"]
    pair = api.get(
        "/console/v1/requests", params={"namespace": "default", "service": "iris", "q": "a"}
    ).json()["items"][-1]
    assert pair["request"]["data"] == {"instances": [[1]]}
    assert pair["response"]["data"] == {"predictions": [0]}
    assert pair["release"] == "v1"
    assert (
        api.get(
            "/console/v1/requests",
            params={"namespace": "default", "service": "iris", "status": "x"},
        ).status_code
        == 400
    )


def test_yaml_is_parsed_or_refused_with_its_line(make: MakeClient) -> None:
    api = make(cookie())
    headers = {"X-MLS-Console": "1", "Content-Type": "application/yaml"}
    good = api.post(
        "/console/v1/yaml", content=b"kind: MLService\nspec: {default: v1}\n", headers=headers
    )
    assert good.json() == {"object": {"kind": "MLService", "spec": {"default": "v1"}}}
    bad = api.post("/console/v1/yaml", content=b"kind: MLService\nspec: [\n", headers=headers)
    assert bad.status_code == 400
    assert "line 3" in bad.json()["message"]
    scalar = api.post("/console/v1/yaml", content=b"just text", headers=headers)
    assert scalar.status_code == 400
    dumped = api.post(
        "/console/v1/yaml/dump",
        json={"kind": "MLService", "spec": {"default": "v1"}},
        headers=headers,
    )
    assert dumped.json()["text"] == "kind: MLService\nspec:\n  default: v1\n"


def test_the_metrics_endpoint_serves_one_services_releases(
    make: MakeClient, history: MetricsHistory
) -> None:
    mine = ReleaseKey("default", "iris", "predict", "v1")
    theirs = ReleaseKey("default", "other", "predict", "v1")
    for now, count in ((1.0, 0.0), (2.0, 5.0)):
        history.record(
            [
                (mine, "r1", Totals(codes={"200": count})),
                (theirs, "r2", Totals(codes={"200": 1.0})),
            ],
            now=now,
        )
    answer = (
        make(cookie())
        .get("/console/v1/metrics", params={"namespace": "default", "service": "iris"})
        .json()
    )
    assert list(answer["releases"]) == ["predict/v1"]
    assert [p["requests"] for p in answer["releases"]["predict/v1"]] == [0, 5]


def test_the_request_log_reads_only_its_recent_tail(tmp_path: Path) -> None:
    from mlservice.api.console import _recent

    folder = tmp_path / "requests"
    folder.mkdir()
    old = "".join(json.dumps(_event("request", f"old{i}", "v1")) + "\n" for i in range(50))
    (folder / "mlservice-2026.12.05.jsonl").write_text(old)
    new = [json.dumps(_event("request", f"new{i}", "v1")) + "\n" for i in range(3)]
    (folder / "mlservice-2026.12.06.jsonl").write_text("".join(new) + '{"cut')
    everything = [d["id"] for d in _recent(folder)]
    assert everything[-3:] == ["new0", "new1", "new2"]
    assert len(everything) == 53
    budget = len(new[1]) + len(new[2]) + len('{"cut') + 10  # reaches into new0: cut, skipped
    assert [d["id"] for d in _recent(folder, budget)] == ["new1", "new2"]
