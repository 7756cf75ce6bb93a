"""Issue 6's acceptance, end to end: a real `mls up` (controllers, engine, gateway child),
real `mls serve` replicas, real clients going through the gateway by Host header."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from mlservice.cli.background import UpProcess
from mlservice.gateway.reqlog import localfile
from tests.gateway.e2e_gateway import (
    IRIS_ROW,
    Load,
    copy_model,
    gateway,
    iris_models,
    mlservice,
    release,
    replica_pid,
    revisions_of,
    wait_ready,
)
from tests.gateway.gateway_procs import start_upstream
from tests.gateway.sink_events import request_and_response, sink_records
from tests.support.polling import wait_until
from tests.support.up import apply, mls_on, scratch_namespace, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MODELS = Path(__file__).parent / "models"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    home = tmp_path_factory.mktemp("gw-e2e") / "home"
    with up_process(home) as running:
        yield running


@pytest.fixture
def namespace(request: pytest.FixtureRequest, up: UpProcess) -> Iterator[str]:
    """A namespace per test; its services are deleted afterwards."""
    with scratch_namespace(up, request, limit=30) as name:
        yield name


@pytest.fixture(scope="module")
def iris_volume(up: UpProcess) -> str:
    """Volume `gw-models` with `iris/` (predicts 2 for IRIS_ROW) and `iris-shifted/` (0)."""
    return iris_models(up, "gw-models")


def _infer(http: httpx.Client, host: str, name: str = "iris") -> httpx.Response:
    return http.post(f"/v2/models/{name}/infer", json=IRIS_ROW, headers={"host": host})


def _prediction(answer: httpx.Response) -> int:
    return int(answer.json()["outputs"][0]["data"][0])


def test_canary_split_release_hosts_and_moving_the_percent(
    up: UpProcess, namespace: str, iris_volume: str
) -> None:
    uri = f"pvc://{iris_volume}/iris/"
    manifest = mlservice(
        "iris", release("v1", uri), release("v2", uri), canary="v2", canaryTrafficPercent=20
    )
    apply(up, manifest, namespace)
    wait_ready(up, "iris", namespace)
    host = f"iris.{namespace}.localhost"
    with gateway(up, timeout=30) as http:
        releases = Counter(_infer(http, host).headers["x-mls-release"] for _ in range(1000))
        assert set(releases) == {"v1", "v2"}
        assert 16 <= releases["v2"] / 10 <= 24, releases
        for name in ("v1", "v2"):
            for _ in range(30):
                answer = _infer(http, f"iris-predict-{name}.{namespace}.localhost")
                assert answer.status_code == 200
                assert answer.headers["x-mls-release"] == name

    manifest["spec"]["canaryTrafficPercent"] = 100
    with Load(lambda http: _infer(http, host), up, threads=2) as load:
        time.sleep(0.5)
        apply(up, manifest, namespace)
        applied = time.monotonic()
        time.sleep(3)
    assert not load.failures
    late = [rel for t, _, rel, _ in load.results if t > applied + 2]
    assert late
    assert set(late) == {"v2"}, Counter(late)


def _digits() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A digits classifier (joblib bytes) and the 8x8 images with their classes."""
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    digits = load_digits()
    model = KNeighborsClassifier(n_neighbors=3).fit(digits.data, digits.target)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue(), digits.images, digits.target


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    grey = np.round(image / 16.0 * 255.0).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(grey, mode="L").save(out, format="PNG")
    return out.getvalue()


def test_transformer_chain_turns_a_png_into_a_label(
    up: UpProcess, namespace: str, tmp_path: Path
) -> None:
    model, images, targets = _digits()
    predictor_dir = up.home.volume(namespace) / "digits"
    predictor_dir.mkdir(parents=True)
    (predictor_dir / "model.joblib").write_bytes(model)
    transformer_dir = tmp_path / "transformer"
    copy_model(MODELS / "digits_transformer", transformer_dir)
    container = {
        "name": "user-container",
        "command": ["mls", "serve", str(transformer_dir), "--name", "digits", "--port", "$(PORT)"],
    }
    manifest = mlservice(
        "digits",
        release("v1", f"pvc://{namespace}/digits/"),
        transformer={"template": {"spec": {"containers": [container]}}},
    )
    apply(up, manifest, namespace)
    wait_ready(up, "digits", namespace)
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    for index in (3, 7, 42):
        path = tmp_path / f"digit-{index}.png"
        path.write_bytes(_png(images[index]))
        done = subprocess.run(
            [
                *("curl", "-sS", "-X", "POST", "-T", str(path), "-D", "-"),
                *("-H", "Content-Type: image/png", "-H", f"Host: digits.{namespace}.localhost"),
                f"{up.endpoints['gateway']}/v1/models/digits:predict",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        text = done.stdout.replace("\r\n", "\n")
        text = text.removeprefix("HTTP/1.1 100 Continue\n\n")  # curl -T asks for it; we answer
        head, _, body = text.partition("\n\n")
        assert head.startswith("HTTP/1.1 200"), done.stdout
        assert httpx.Response(200, content=body).json() == {
            "predictions": [names[int(targets[index])]]
        }
        assert "x-mls-release: v1" in head.lower()  # copied by the transformer from the predictor


def test_logger_sends_cloudevents_and_keeps_every_event_when_the_sink_is_down(
    up: UpProcess, namespace: str, iris_volume: str, tmp_path: Path
) -> None:
    sink = start_upstream("sink", tmp_path)
    try:
        logger = {"urls": [f"{sink.urls[0]}/events"], "mode": "all"}
        manifest = mlservice("logged", release("v1", f"pvc://{iris_volume}/iris/", logger=logger))
        apply(up, manifest, namespace)
        wait_ready(up, "logged", namespace)
        host = f"logged.{namespace}.localhost"
        with gateway(up, timeout=30) as http:
            answer = _infer(http, host, name="logged")
            assert answer.status_code == 200, answer.text
        received = sink_records(sink)
    finally:
        sink.stop()
    request, response = request_and_response(received)
    for event in (request, response):
        assert event.get_source() == "logged-predict-v1"
        assert event.get_extension("component") == "predict"
        assert event.get_extension("inferenceurl") == "/v2/models/logged/infer"
        assert event.get_extension("mlservicename") == "logged"
        assert event.get_extension("namespace") == namespace
        assert event.get_extension("traceparent").startswith("00-")
    assert request.get_data() == IRIS_ROW
    assert response.get_data() == answer.json()

    # The sink is gone now: requests still succeed quickly, and every event is in the file.
    started = time.monotonic()
    with gateway(up, timeout=30) as http:
        for _ in range(20):
            assert _infer(http, host, name="logged").status_code == 200
    assert time.monotonic() - started < 10

    def logged() -> list[dict[str, Any]]:
        docs = localfile.read_events(up.home.request_logs)
        found = [d for d in docs if d.get("namespace") == namespace]
        return found if len(found) >= 42 else []

    docs = wait_until(logged, timeout=10, message="42 events in the local file")
    assert len(docs) == 42
    assert len({d["id"] for d in docs}) == 21
    printed = mls_on(up, "logs", "logged", "-n", namespace, "--requests", "--tail", "2")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("Context Attributes,\n  specversion: 1.0\n")
    assert "Extensions,\n  component: predict\n" in printed.stdout
    assert f"  namespace: {namespace}\n" in printed.stdout
    assert printed.stdout.count("Context Attributes,") == 2


def test_a_release_at_zero_holds_requests_until_ready_and_a_never_ready_one_answers_503(
    up: UpProcess, namespace: str
) -> None:
    for name in ("slow", "never"):
        copy_model(MODELS / name, up.home.volume(namespace) / name)
    apply(up, mlservice("slow", release("v1", f"pvc://{namespace}/slow/", fmt="python")), namespace)
    wait_until(
        lambda: any(r["endpoints"] == [] for r in revisions_of(up, namespace, "slow")),
        timeout=30,
        message="a route to the slow revision with no ready replica",
    )
    host = f"slow.{namespace}.localhost"

    def call(_: int) -> httpx.Response:
        with gateway(up, timeout=60) as http:
            return http.post(
                "/v1/models/slow:predict", json={"instances": [1]}, headers={"host": host}
            )

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(call, range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert all(a.json() == {"predictions": ["slow"]} for a in answers)

    never = release("v1", f"pvc://{namespace}/never/", fmt="python", timeoutSeconds=3)
    apply(up, mlservice("never", never), namespace)
    wait_until(
        lambda: revisions_of(up, namespace, "never"),
        timeout=30,
        message="a route to the never-ready revision",
    )
    started = time.monotonic()
    with gateway(up, timeout=30) as http:
        answer = http.get("/v2/models/never", headers={"host": f"never.{namespace}.localhost"})
    waited = time.monotonic() - started
    assert answer.status_code == 503
    assert "no ready replica" in answer.json()["error"]
    assert 2.5 <= waited < 10


def test_a_replica_killed_under_load_fails_only_what_it_held(
    up: UpProcess, namespace: str, iris_volume: str
) -> None:
    apply(
        up, mlservice("pair", release("v1", f"pvc://{iris_volume}/iris/", minReplicas=2)), namespace
    )
    wait_ready(up, "pair", namespace)
    (revision,) = wait_until(
        lambda: [r for r in revisions_of(up, namespace, "pair") if len(r["endpoints"]) == 2],
        timeout=60,
        message="two ready replicas",
    )
    victim = revision["endpoints"][0]
    pid = replica_pid(up, namespace, victim["replica"])
    assert pid is not None
    host = f"pair.{namespace}.localhost"
    with Load(lambda http: _infer(http, host, name="pair"), up, threads=3) as load:
        time.sleep(1)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()

        def replaced() -> dict[str, Any] | None:
            if replica_pid(up, namespace, victim["replica"]) in (None, pid):
                return None  # not restarted yet
            (current,) = revisions_of(up, namespace, "pair")
            back = [e for e in current["endpoints"] if e["replica"] == victim["replica"]]
            return back[0] if back and len(current["endpoints"]) == 2 else None

        replacement = wait_until(replaced, timeout=60, message="the replacement replica, ready")
        time.sleep(1.5)
    # Only requests in flight on the killed replica may fail: at most one per client thread.
    assert len(load.failures) <= 3, load.failures
    assert all(code == 200 for t, code, _, _ in load.results if t > killed + 0.5)
    # A fresh process counts from zero: any request it counted came after it was back.
    served = httpx.get(f"http://{replacement['address']}/metrics", timeout=10).text
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in served.splitlines()
        if line.startswith("mls_requests_total") and 'status="200"' in line
    ]
    assert sum(counts) > 0, served[-2000:]


def test_changing_model_uri_under_load_fails_nothing_and_switches_models(
    up: UpProcess, namespace: str, iris_volume: str
) -> None:
    manifest = mlservice("roll", release("v1", f"pvc://{iris_volume}/iris/"))
    apply(up, manifest, namespace)
    wait_ready(up, "roll", namespace)
    host = f"roll.{namespace}.localhost"
    with Load(lambda http: _infer(http, host, name="roll"), up, threads=2) as load:
        time.sleep(0.5)
        manifest["spec"]["releases"][0]["predictor"]["model"]["modelUri"] = (
            f"pvc://{iris_volume}/iris-shifted/"
        )
        apply(up, manifest, namespace)
        wait_until(
            lambda: load.results and _prediction_of(load.results[-1][3]) == 0,
            timeout=60,
            message="answers from the new model",
        )
        time.sleep(1)
    assert not load.failures, load.failures[:5]
    predictions = [_prediction_of(body) for _, _, _, body in load.results]
    assert predictions[0] == 2
    switched = predictions.index(0)
    assert set(predictions[switched + 20 :]) == {0}, "answers went back to the old model"


def _prediction_of(body: str) -> int:
    return _prediction(httpx.Response(200, content=body))
