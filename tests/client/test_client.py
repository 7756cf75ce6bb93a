"""The Python SDK (`Client`, `AsyncClient`) against a real `mls up`, and predict via a gateway."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlservice.cli.background import UpProcess
from mlservice.client import (
    AlreadyExists,
    AsyncClient,
    Client,
    Conflict,
    Endpoints,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from mlservice.home import Home
from tests.resources.kserve_manifests import isvc, runtime
from tests.support.up import API_ONLY_ARGS, namespace_name, up_process

READY = {"conditions": [{"type": "Ready", "status": "True"}], "ready": True}


def mlservice(name: str, *, percent: int = 0) -> dict[str, Any]:
    model = {"modelFormat": {"name": "sklearn"}, "modelUri": "pvc://models/m/"}
    spec: dict[str, Any] = {
        "default": "v1",
        "releases": [{"name": "v1", "predictor": {"model": model}}],
    }
    if percent:
        spec["releases"].append({"name": "v2", "predictor": {"model": model}})
        spec.update(canary="v2", canaryTrafficPercent=percent)
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    # The API alone: controllers would write the status these tests write themselves.
    with up_process(tmp_path_factory.mktemp("home"), args=API_ONLY_ARGS) as running:
        yield running


@pytest.fixture
def client(up: UpProcess, request: pytest.FixtureRequest) -> Iterator[Client]:
    with up.client(namespace=namespace_name(request)) as opened:
        yield opened


def test_endpoints_come_from_arguments_then_env_then_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLS_API", raising=False)
    monkeypatch.delenv("MLS_TOKEN", raising=False)
    home = Home(tmp_path)
    assert Endpoints.resolve(home=home) == Endpoints(
        "http://127.0.0.1:8787", None, "http://127.0.0.1:8080", "localhost"
    )
    home.endpoints.write_text(
        json.dumps({"api": "http://127.0.0.1:1234", "gateway": None, "domain": "example.test"})
    )
    home.token.write_text("from-file\n")
    assert Endpoints.resolve(home=home) == Endpoints(
        "http://127.0.0.1:1234", "from-file", None, "example.test"
    )
    monkeypatch.setenv("MLS_API", "http://127.0.0.1:5678/")
    monkeypatch.setenv("MLS_TOKEN", "from-env")
    assert Endpoints.resolve(home=home).api == "http://127.0.0.1:5678"
    assert Endpoints.resolve(home=home).token == "from-env"
    explicit = Endpoints.resolve("http://127.0.0.1:9", token="t", home=home, gateway="http://g")
    assert (explicit.api, explicit.token, explicit.gateway) == (
        "http://127.0.0.1:9",
        "t",
        "http://g",
    )


def test_apply_reports_created_unchanged_configured(client: Client) -> None:
    assert client.apply(mlservice("a")).action == "created"
    assert client.apply(mlservice("a")).action == "unchanged"
    changed = client.apply(mlservice("a", percent=10))
    assert (changed.action, changed.kind, changed.name) == ("configured", "MLService", "a")
    assert changed.object["metadata"]["generation"] == 2


def test_crud_and_typed_errors(client: Client, up: UpProcess) -> None:
    created = client.create(mlservice("a"))
    with pytest.raises(AlreadyExists) as exists:
        client.create(mlservice("a"))
    assert isinstance(exists.value, Conflict)
    assert [o["metadata"]["name"] for o in client.list("mlsvc")] == ["a"]
    stale = dict(created, spec=mlservice("a", percent=5)["spec"])
    client.replace(stale)
    with pytest.raises(Conflict, match="was modified"):
        client.replace(stale)
    labelled = client.patch("mlservices", "a", {"metadata": {"labels": {"k": "v"}}})
    assert labelled["metadata"]["labels"] == {"k": "v"}
    assert client.list("mlservice", label_selector="k=v")[0]["metadata"]["name"] == "a"
    bad = mlservice("b")
    bad["spec"]["canaryTrafficPercent"] = 150
    with pytest.raises(Invalid) as invalid:
        client.create(bad)
    assert [c.field for c in invalid.value.causes] == ["spec.canaryTrafficPercent"]
    assert client.delete("mlsvc", "a")["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(NotFound, match="not found"):
        client.get("mlsvc", "a")
    with Client(up.api, token="wrong") as intruder, pytest.raises(Unauthorized):
        intruder.list("mlsvc")
    with Client("http://127.0.0.1:9", token="t") as nowhere, pytest.raises(Unavailable):
        nowhere.list("mlsvc")


def test_cluster_scoped_objects_ignore_the_client_namespace(client: Client) -> None:
    name = f"csr-{client.namespace}"[:63]
    body = runtime(name=name)
    assert client.apply(body).action == "created"
    assert client.apply(body).action == "unchanged"
    got = client.get("clusterservingruntime", name, namespace="anything")
    assert "namespace" not in got["metadata"]
    assert name in [o["metadata"]["name"] for o in client.list("clusterservingruntimes")]
    watched = next(iter(client.watch("clusterservingruntime", name=name, timeout=5)))
    assert (watched["type"], watched["object"]["metadata"]["name"]) == ("ADDED", name)
    with pytest.raises(WaitTimeout, match=rf"ClusterServingRuntime {name} was not Ready"):
        client.wait_ready("clusterservingruntime", name, timeout=0.2)
    client.delete("clusterservingruntime", name)
    with pytest.raises(NotFound, match=rf"ClusterServingRuntime {name} not found"):
        client.get("clusterservingruntime", name)


def test_inference_service_wait_ready_reads_its_ready_condition(client: Client) -> None:
    client.create(isvc())
    client.patch("isvc", "sklearn-iris", {"status": READY}, status=True)
    ready = client.wait_ready("inferenceservice", "sklearn-iris", timeout=5)
    assert ready["status"]["conditions"] == READY["conditions"]


def test_watch_and_wait_ready(client: Client) -> None:
    created = client.create(mlservice("a"))
    with pytest.raises(WaitTimeout, match=r"was not Ready within 0\.2s") as slow:
        client.wait_ready("mlsvc", "a", timeout=0.2)
    assert isinstance(slow.value, TimeoutError)

    def report_ready() -> None:
        client.patch(
            "mlsvc",
            "a",
            {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
            status=True,
        )
        client.patch("mlsvc", "a", {"status": READY}, status=True)

    writer = threading.Thread(target=report_ready)
    writer.start()
    ready = client.wait_ready("mlsvc", "a", timeout=30)
    writer.join(timeout=30)
    assert ready["status"]["ready"] is True
    events = [
        (e["type"], e["object"]["status"]["conditions"][0]["status"])
        for e in client.watch(
            "mlsvc", resource_version=created["metadata"]["resourceVersion"], timeout=1
        )
    ]
    assert events == [("MODIFIED", "False"), ("MODIFIED", "True")]


def test_async_client_has_the_same_verbs(up: UpProcess) -> None:
    async def scenario() -> list[str]:
        async with AsyncClient(up.api, token=up.token, namespace="async-ns") as client:
            assert (await client.apply(mlservice("a"))).action == "created"
            await client.patch("mlsvc", "a", {"status": READY}, status=True)
            ready = await client.wait_ready("mlsvc", "a", timeout=10)
            assert ready["status"]["ready"] is True
            with pytest.raises(NotFound):
                await client.get("mlsvc", "b")
            seen = [e["type"] async for e in client.watch("mlsvc", timeout=1)]
            await client.delete("mlsvc", "a")
            return seen

    assert asyncio.run(scenario()) == ["ADDED"]


class _Gateway(BaseHTTPRequestHandler):
    """A stand-in gateway on loopback: records each request and answers like a model server."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(
            {
                "path": self.path,
                "host": self.headers["Host"],
                "auth": self.headers.get("Authorization"),
                "body": body,
            }
        )
        status, reply = (
            (503, {"error": "paused"}) if body.get("paused") else (200, {"predictions": [1]})
        )
        payload = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    _Gateway.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_predict_goes_to_the_gateway_with_the_service_host(up: UpProcess, gateway: str) -> None:
    with up.client(gateway=gateway, namespace="team") as client:
        assert client.predict("mnist", {"instances": [[0]]}) == {"predictions": [1]}
        client.predict("mnist", {"inputs": []}, release="v2", v2=True, model="digits")
        with pytest.raises(Unavailable, match="paused"):
            client.predict("mnist", {"paused": True})
    first, second, _ = _Gateway.seen
    assert (first["path"], first["host"]) == ("/v1/models/mnist:predict", "mnist.team.localhost")
    assert (second["path"], second["host"]) == (
        "/v2/models/digits/infer",
        "mnist-predict-v2.team.localhost",
    )
    assert first["auth"] is None  # the API token never leaves for the data plane
    with (
        Client(up.api, token=up.token, home=up.home) as recorded,
        pytest.raises(Unavailable, match="No gateway"),
    ):
        recorded.predict("mnist", {})  # endpoints.json says this `mls up` runs no gateway yet
