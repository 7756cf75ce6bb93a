"""`mls serve --model-repository` against real clients: httpx, tritonclient http and grpc.

One server, three tiny sklearn models that each answer their own constant class (so an answer
says which model gave it), each charged 40Mi against a 100Mi budget: two fit, the third evicts
the least recently used. `a` and `b` load at start, `c` on its first request.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from tests.server.grpc.grpc_procs import GrpcServed, grpc_target
from tests.server.server_procs import Launcher, metric

MODELS = ("a", "b", "c")
ROW = [5.1, 3.5, 1.4, 0.2]


def make_repository(root: Path, iris: tuple[Any, Any], names: tuple[str, ...]) -> None:
    import joblib
    from sklearn.dummy import DummyClassifier

    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True)
        model = DummyClassifier(strategy="constant", constant=label).fit(*iris)
        joblib.dump(model, folder / "model.joblib")
        settings = {"memory": "40Mi", "parameters": {"version": "1"}}
        (folder / "model-settings.json").write_text(json.dumps(settings))


@pytest.fixture(scope="module")
def repository_root(iris: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repository")
    make_repository(root, iris, MODELS)
    return root


@pytest.fixture(scope="module")
def repo(launcher: Launcher, repository_root: Path) -> Iterator[GrpcServed]:
    root = repository_root
    (root / ".hidden").mkdir()  # not a model
    argv = [
        "-m", "mlservice", "serve", "--model-repository", str(root), "--load-models", "a,b",
        "--max-models-memory", "100Mi", "--grpc-port", "0", "--port", "0",
    ]  # fmt: skip
    served = launcher.spawn([sys.executable, *argv], name="repository")
    yield GrpcServed(served, grpc_target(served), "a")
    served.stop()


@pytest.fixture
def http(repo: GrpcServed) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=repo.rest.url, timeout=30) as client:
        yield client


def infer(http: httpx.Client, name: str) -> httpx.Response:
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    return http.post(f"/v2/models/{name}/infer", json=body)


def answer(http: httpx.Client, name: str) -> int:
    reply = infer(http, name)
    assert reply.status_code == 200, reply.text
    return int(reply.json()["outputs"][0]["data"][0])


def states(http: httpx.Client) -> dict[str, str]:
    reply = http.post("/v2/repository/index")
    assert reply.status_code == 200, reply.text
    return {entry["name"]: entry["state"] for entry in reply.json()}


def reset(http: httpx.Client, *loaded: str) -> None:
    for name in MODELS:
        assert http.post(f"/v2/repository/models/{name}/unload").status_code == 200
    for name in loaded:
        assert http.post(f"/v2/repository/models/{name}/load").status_code == 200


def test_index_lists_models_and_states_with_every_client(
    repo: GrpcServed, http: httpx.Client
) -> None:
    reset(http, "a", "b")
    (entry_a, entry_b, entry_c) = http.post("/v2/repository/index").json()
    assert entry_a == {"name": "a", "version": "1", "state": "READY"}
    assert entry_b["state"] == "READY"
    assert entry_c["name"] == "c"
    assert entry_c["state"] == "UNAVAILABLE"
    assert entry_c["reason"] == "unloaded"
    ready_only = http.post("/v2/repository/index", json={"ready": True}).json()
    assert [entry["name"] for entry in ready_only] == ["a", "b"]
    host = repo.rest.url.removeprefix("http://")
    with triton_http.InferenceServerClient(host) as client:
        listed = client.get_model_repository_index()
        assert {m["name"]: m["state"] for m in listed} == states(http)
    with repo.client() as client:
        index = client.get_model_repository_index(as_json=True)["models"]
        assert {m["name"]: m["state"] for m in index} == {
            "a": "READY",
            "b": "READY",
            "c": "UNAVAILABLE",
        }


def test_load_and_unload_change_readiness(repo: GrpcServed, http: httpx.Client) -> None:
    reset(http, "a")
    with repo.client() as client:
        assert client.is_model_ready("a")
        client.unload_model("a")
        assert not client.is_model_ready("a")
        assert http.get("/v2/models/a/ready").status_code == 503
        refused = infer(http, "a")  # unloaded on purpose: a request does not bring it back
        assert refused.status_code == 503
        assert refused.json() == {"error": "Model a is not loaded."}
        assert http.get("/v2/health/ready").status_code == 200  # the server still serves
        client.load_model("a")
        assert client.is_model_ready("a")
    assert http.get("/v2/models/a/ready").status_code == 200
    assert answer(http, "a") == 0
    host = repo.rest.url.removeprefix("http://")
    with triton_http.InferenceServerClient(host) as client:
        client.unload_model("a")
        assert not client.is_model_ready("a")
        client.load_model("a")
        assert client.is_model_ready("a")


def test_unknown_model_is_404_and_not_found(repo: GrpcServed, http: httpx.Client) -> None:
    assert infer(http, "nope").status_code == 404
    assert http.get("/v2/models/nope/ready").status_code == 404
    load = http.post("/v2/repository/models/nope/load")
    assert load.status_code == 404
    assert load.json() == {"error": "Model nope is not served here."}
    assert http.post("/v2/repository/models/nope/unload").status_code == 404
    with repo.client() as client:
        for call in (client.load_model, client.unload_model):
            with pytest.raises(InferenceServerException) as missing:
                call("nope")
            assert missing.value.status() == "StatusCode.NOT_FOUND"
            assert missing.value.message() == "Model nope is not served here."
    host = repo.rest.url.removeprefix("http://")
    with triton_http.InferenceServerClient(host) as client:
        with pytest.raises(InferenceServerException) as http_missing:
            client.load_model("nope")
        assert http_missing.value.status() == "404"


def test_memory_budget_evicts_the_least_recently_used_and_reloads_on_request(
    repo: GrpcServed, http: httpx.Client
) -> None:
    reset(http, "c", "a", "b")  # loading b evicts c: evicted, not unloaded on purpose
    assert states(http) == {"a": "READY", "b": "READY", "c": "UNAVAILABLE"}
    evicted_before = metric(repo.metrics(), 'mls_model_unloads_total{model="b",reason="evicted"}')
    assert answer(http, "b") == 1
    with repo.client() as client:  # a gRPC call marks its model used too
        row = triton_grpc.InferInput("x", [1, 4], "FP64")
        row.set_data_from_numpy(np.array([ROW]))
        assert client.infer("a", [row]).as_numpy("predict").tolist() == [0]
    # b is now the least recently used
    assert answer(http, "c") == 2  # loaded on demand: 3 x 40Mi do not fit in 100Mi
    assert states(http) == {"a": "READY", "b": "UNAVAILABLE", "c": "READY"}
    (entry_b,) = [e for e in http.post("/v2/repository/index").json() if e["name"] == "b"]
    assert entry_b["reason"] == "evicted to fit c in --max-models-memory"
    assert http.get("/v2/models/b/ready").status_code == 503
    assert answer(http, "b") == 1  # reloaded, evicting a (used before c)
    assert states(http) == {"a": "UNAVAILABLE", "b": "READY", "c": "READY"}
    text = repo.metrics()
    assert metric(text, 'mls_model_unloads_total{model="b",reason="evicted"}') == evicted_before + 1
    assert metric(text, 'mls_model_ready{model="a"}') == 0
    assert metric(text, 'mls_model_ready{model="b"}') == 1
    assert metric(text, "mls_repository_memory_bytes") == 2 * 40 * 2**20
    assert metric(text, 'mls_requests_total{model="c",protocol="v2",status="200"}') >= 1


def test_a_folder_added_while_serving_is_listed_and_loads(
    repo: GrpcServed, http: httpx.Client, iris: tuple[Any, Any], repository_root: Path
) -> None:
    make_repository(repository_root, iris, ("d",))
    assert states(http)["d"] == "UNAVAILABLE"
    assert http.post("/v2/repository/models/d/load").json() == {"name": "d", "load": True}
    assert answer(http, "d") == 0
