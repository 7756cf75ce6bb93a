"""The real TorchServe runtime without a JVM: the config.properties it runs with, and the
adapter's V1/V2/TorchServe API over a fake TorchServe that checks its tokens. The real one runs
in tests/e2e/test_torchserve.py (one JVM), and answers there as the native server does."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mlservice.runtime.torchserve.adapter import (
    TorchServe,
    app,
    instance_body,
    v2_input,
    v2_output,
)
from mlservice.runtime.torchserve.properties import (
    Ports,
    find_store,
    http_url,
    our_properties,
    parse,
    render,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


PORTS = Ports(inference=1, management=2, metrics=3, grpc_inference=4, grpc_management=5, worker=6)


def test_properties_parse_as_java_reads_them() -> None:
    text = "# comment\n! also\nmodel_store=/mnt/models/model-store\nkey: value\nlong=a\\\n  b\n"
    assert parse(text) == {"model_store": "/mnt/models/model-store", "key": "value", "long": "ab"}


def test_addresses_are_built_never_pasted() -> None:
    # KServe's wrapper logged "http//0.0.0.0:8085" (the reference's log); ours cannot.
    assert http_url("0.0.0.0", 8085) == "http://0.0.0.0:8085"
    assert http_url("::1", 8085) == "http://[::1]:8085"
    assert http_url("localhost", 1) == "http://localhost:1"


def test_ours_keep_the_users_settings_and_place_torchserve_on_its_ports(tmp_path: Path) -> None:
    user = {
        "inference_address": "http://0.0.0.0:8085",
        "model_store": "/mnt/models/model-store",
        "model_snapshot": '{"models": {}}',
        "service_envelope": "kserve",
        "disable_token_authorization": "true",
        "job_queue_size": "10",
    }
    ours = our_properties(user, store=tmp_path, ports=PORTS)
    assert ours["inference_address"] == "http://127.0.0.1:1"
    assert ours["management_address"] == "http://127.0.0.1:2"
    assert (ours["grpc_inference_port"], ours["initial_worker_port"]) == ("4", "6")
    assert ours["model_store"] == str(tmp_path)
    assert ours["model_snapshot"] == '{"models": {}}'
    assert ours["job_queue_size"] == "10"
    assert ours["disable_token_authorization"] == "false"
    assert "service_envelope" not in ours
    assert parse(render(ours)) == ours


def test_a_store_is_the_references_layout_or_a_folder_of_archives(tmp_path: Path) -> None:
    (tmp_path / "model-store").mkdir()
    assert find_store(tmp_path).archives == tmp_path / "model-store"
    assert find_store(tmp_path).config is None
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.properties").write_text("a=b\n")
    assert find_store(tmp_path).config == tmp_path / "config" / "config.properties"
    assert find_store(tmp_path / "model-store").archives == tmp_path / "model-store"


def test_instances_go_to_torchserve_as_its_envelope_would_give_them() -> None:
    assert instance_body({"data": "aGk="}) == (b"aGk=", "text/plain; charset=utf-8")
    assert instance_body([1, 2]) == (b"[1, 2]", "application/json")
    assert instance_body({"data": [1], "x": 2}) == (b'{"data": [1], "x": 2}', "application/json")


def test_v2_inputs_and_outputs_follow_torchserves_kservev2_envelope() -> None:
    """An input is one row: BYTES its first element, else its data shaped; an answer is one
    output, flattened (mls serve's `_output` builds the same)."""
    assert v2_input({"name": "x", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}) == "a"
    shaped = {"name": "x", "datatype": "FP32", "shape": [2, 1, 2], "data": [1, 2, 3, 4]}
    assert v2_input(shaped) == [[[1, 2]], [[3, 4]]]
    assert v2_input({"name": "x", "datatype": "INT64", "shape": [2], "data": [1, 2]}) == [1, 2]
    assert v2_output([[1, 2], [3]], name="y") == {
        "name": "y",
        "datatype": "INT64",
        "shape": [3],
        "data": [1, 2, 3],
    }
    assert v2_output([0.5, 1], name="y")["datatype"] == "FP64"
    assert v2_output("text", name="y")["data"] == ["text"]
    assert v2_output({"a": "é"}, name="y") == {
        "name": "y",
        "datatype": "BYTES",
        "shape": [1],
        "data": ['{"a":"é"}'],
    }


class FakeTorchServe:
    """TorchServe's inference and management APIs as the adapter sees them, token checked."""

    def __init__(self, keys: Path) -> None:
        keys.write_text(json.dumps({"inference": {"key": "inf"}, "management": {"key": "man"}}))
        self.seen: list[tuple[str, str, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        api = "man" if request.url.port == 2 else "inf"
        if request.headers.get("authorization") != f"Bearer {api}":
            return httpx.Response(400, json={"code": 400, "message": "Token Authorization failed"})
        path = request.url.path
        if path == "/models":
            return httpx.Response(200, json={"models": [{"modelName": "digits"}]})
        if path == "/models/digits":
            return httpx.Response(200, json=[{"workers": [{"status": "READY"}]}])
        if path.startswith("/models/"):
            return httpx.Response(404, json={"code": 404, "message": "Model not found"})
        if path == "/ping":
            return httpx.Response(200, json={"status": "Healthy"})
        if path != "/predictions/digits":
            return httpx.Response(404, json={"code": 404, "message": f"Model not found: {path}"})
        body = request.content
        self.seen.append((path, request.headers.get("content-type", ""), body))
        if body == b"boom":
            return httpx.Response(503, json={"code": 503, "message": "Prediction failed"})
        return httpx.Response(200, text=json.dumps({"echo": body.decode()}, indent=2))


@pytest.fixture
def adapter(tmp_path: Path) -> tuple[httpx.AsyncClient, FakeTorchServe]:
    fake = FakeTorchServe(tmp_path / "key_file.json")
    ts = TorchServe(
        inference="http://127.0.0.1:1",
        management="http://127.0.0.1:2",
        key_file=tmp_path / "key_file.json",
        alias="mnist",
        client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app(ts)), base_url="http://adapter")
    return client, fake


@pytest.mark.anyio
async def test_v1_instances_become_one_call_each_with_the_token(
    adapter: tuple[httpx.AsyncClient, FakeTorchServe],
) -> None:
    client, fake = adapter
    body = {"instances": [{"data": "aGk="}, [1, 2]]}
    answer = await client.post("/v1/models/digits:predict", json=body)
    assert answer.json() == {"predictions": [{"echo": "aGk="}, {"echo": "[1, 2]"}]}
    assert sorted(fake.seen) == [
        ("/predictions/digits", "application/json", b"[1, 2]"),
        ("/predictions/digits", "text/plain; charset=utf-8", b"aGk="),
    ]
    # A raw body (the reference's `curl -T 0.png`, a PUT) is one call, by the alias too.
    raw = await client.put("/v1/models/mnist:predict", content=b"\x89PNG")
    assert raw.status_code == 404  # the alias names the one model only once it is ready
    assert (await client.get("/v2/health/ready")).status_code == 200
    raw = await client.put(
        "/v1/models/mnist:predict", content=b"png", headers={"content-type": "image/png"}
    )
    assert raw.json() == {"predictions": [{"echo": "png"}]}
    assert fake.seen[-1][1] == "image/png"


@pytest.mark.anyio
async def test_v2_and_torchserves_own_api(
    adapter: tuple[httpx.AsyncClient, FakeTorchServe],
) -> None:
    client, fake = adapter
    # KServe's TorchServe V2 (the kservev2 envelope): one row per input, a BYTES input's first
    # element; mls serve answers the same (tests/server/torchserve/test_torchserve_serve.py).
    tensor = {"name": "x", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}
    infer = await client.post("/v2/models/digits/infer", json={"id": "7", "inputs": [tensor]})
    assert infer.json() == {
        "model_name": "digits",
        "id": "7",
        "outputs": [{"name": "x", "datatype": "BYTES", "shape": [1], "data": ['{"echo":"a"}']}],
    }
    assert fake.seen[-1] == ("/predictions/digits", "text/plain; charset=utf-8", b"a")
    rows = {"name": "r", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}
    infer = await client.post("/v2/models/digits/infer", json={"inputs": [rows, tensor]})
    assert [o["name"] for o in infer.json()["outputs"]] == ["r", "x"]
    assert infer.json()["outputs"][0]["data"] == ['{"echo":"[[1, 2], [3, 4]]"}']
    own = await client.post("/predictions/digits", content=b"x")
    assert own.json() == {"echo": "x"}
    assert (await client.get("/ping")).json() == {"status": "Healthy"}
    assert (await client.get("/models")).json() == {"models": [{"modelName": "digits"}]}
    assert (await client.get("/v1/models")).json() == {"models": ["digits"]}
    assert (await client.get("/v2/models/digits/ready")).status_code == 200
    assert (await client.get("/v2/models/nope/ready")).status_code == 503


@pytest.mark.anyio
async def test_errors_keep_torchserves_status_and_message(
    adapter: tuple[httpx.AsyncClient, FakeTorchServe],
) -> None:
    client, _ = adapter
    failed = await client.post("/v1/models/digits:predict", json={"instances": ["boom"]})
    assert (failed.status_code, failed.json()) == (503, {"error": "Prediction failed"})
    missing = await client.post("/v1/models/nope:predict", json={"instances": [1]})
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]
    bad = await client.post("/v2/models/digits/infer", json={"inputs": []})
    assert bad.status_code == 400


@pytest.mark.anyio
async def test_without_its_key_file_torchserve_refuses_and_the_adapter_says_so(
    tmp_path: Path,
) -> None:
    fake = FakeTorchServe(tmp_path / "keys.json")
    ts = TorchServe(
        inference="http://127.0.0.1:1",
        management="http://127.0.0.1:2",
        key_file=tmp_path / "absent.json",
        client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app(ts)), base_url="http://adapter")
    assert (await client.get("/v2/health/ready")).status_code == 503
    refused = await client.post("/v1/models/digits:predict", json={"instances": [1]})
    assert refused.status_code == 400
    assert "Token" in refused.json()["error"]


@pytest.mark.anyio
async def test_a_torchserve_that_is_not_answering_is_503(tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ts = TorchServe(
        inference="http://127.0.0.1:1",
        management="http://127.0.0.1:2",
        key_file=tmp_path / "absent.json",
        client=httpx.AsyncClient(transport=httpx.MockTransport(down)),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app(ts)), base_url="http://adapter")
    answer = await client.post("/v1/models/digits:predict", json={"instances": [1]})
    assert answer.status_code == 503
    assert "not answering" in answer.json()["error"]
    assert (await client.get("/ping")).status_code == 503
    assert (await client.get("/v2/health/ready")).status_code == 503
