"""The real TorchServe runtime: its config.properties, and the adapter in front of a real
TorchServe (one JVM for the module) serving the digits example's .mar over V1, V2 and
TorchServe's own API, with token authorization on."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlservice.runtime.torchserve.adapter import instance_body, v2_output
from mlservice.runtime.torchserve.properties import (
    Ports,
    find_store,
    http_url,
    our_properties,
    parse,
    render,
)
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.torchserve import DIGIT_PNG, model_stores, needs_java

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
    assert v2_output([1, 2])["datatype"] == "INT64"
    assert v2_output([0.5])["datatype"] == "FP64"
    assert v2_output([{"a": 1}])["data"] == ['{"a": 1}']


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    stores = model_stores(tmp_path_factory.mktemp("stores"))
    work = tmp_path_factory.mktemp("replica")
    port = free_port()
    argv = [sys.executable, "-m", "mlservice.runtime.builtin.torchserve", "--port", str(port)]
    argv += ["--grpc-port", str(free_port()), "--model-store", str(stores / "digits")]
    argv += ["--name", "mnist"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log = (work / "out.log").open("wb")
    process = subprocess.Popen(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, (work / "out.log").read_text()[-3000:]
        try:
            return httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=120, interval=0.5)
        yield url, work
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()


def _digit(answer: Any) -> int:
    assert abs(sum(answer["probabilities"]) - 1) < 1e-3
    return int(answer["label"])


@needs_java()
def test_v1_instances_and_raw_bodies(served: tuple[str, Path]) -> None:
    url, _ = served
    png = DIGIT_PNG.read_bytes()
    body = {"instances": [{"data": base64.b64encode(png).decode()}] * 2}
    answers = httpx.post(f"{url}/v1/models/digits:predict", json=body, timeout=30).json()
    assert [_digit(a) for a in answers["predictions"]] == [3, 3]
    # The reference's `curl -T 0.png .../v1/models/mnist:predict` (a PUT), by the alias.
    raw = httpx.put(f"{url}/v1/models/mnist:predict", content=png, timeout=30).json()
    assert raw["predictions"] == answers["predictions"][:1]


@needs_java()
def test_v2_and_torchserves_own_api(served: tuple[str, Path]) -> None:
    url, _ = served
    png = DIGIT_PNG.read_bytes()
    text = base64.b64encode(png).decode()
    tensor = {"name": "x", "datatype": "BYTES", "shape": [1], "data": [text]}
    infer = httpx.post(
        f"{url}/v2/models/digits/infer", json={"id": "7", "inputs": [tensor]}, timeout=30
    ).json()
    assert (infer["id"], infer["outputs"][0]["datatype"]) == ("7", "BYTES")
    assert _digit(json.loads(infer["outputs"][0]["data"][0])) == 3
    own = httpx.post(f"{url}/predictions/digits", content=png, timeout=30).json()
    assert _digit(own) == 3
    assert httpx.get(f"{url}/ping").json() == {"status": "Healthy"}
    assert [m["modelName"] for m in httpx.get(f"{url}/models").json()["models"]] == ["digits"]
    assert httpx.get(f"{url}/v2/models/digits/ready").status_code == 200
    assert httpx.get(f"{url}/v2/models/nope/ready").status_code == 503


@needs_java()
def test_errors_keep_torchserves_status_and_token_auth_is_on(served: tuple[str, Path]) -> None:
    url, work = served
    bad = httpx.post(f"{url}/v1/models/digits:predict", json={"instances": [[1, 2]]}, timeout=30)
    assert bad.status_code >= 400
    assert bad.json()["error"]
    missing = httpx.post(f"{url}/v1/models/nope:predict", json={"instances": [[1]]}, timeout=30)
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]
    settings = parse((work / "config.properties").read_text())
    assert settings["disable_token_authorization"] == "false"
    direct = httpx.post(
        f"{settings['inference_address']}/predictions/digits", content=b"[]", timeout=30
    )
    assert direct.status_code == 400
    assert "Token" in direct.json()["message"]
