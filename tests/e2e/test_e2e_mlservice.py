"""Issue 5's acceptance, end to end: a real `mls up`, real `mls serve` replicas, real clients."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import (
    RELEASE_SHAPE,
    V2_ROW,
    condition,
    endpoint,
    events,
    get,
    mlservice_yaml,
    wait_for,
)
from tests.support.polling import wait_until
from tests.support.up import apply, mls_on

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ready(obj: dict) -> bool:
    return bool((obj.get("status") or {}).get("ready"))


def test_a_pvc_model_is_served_with_the_documented_status(
    up: UpProcess, namespace: str, iris_model: bytes, tmp_path: Path
) -> None:
    model = tmp_path / "model.joblib"
    model.write_bytes(iris_model)
    assert mls_on(up, "volume", "create", namespace).returncode == 0
    copied = mls_on(up, "volume", "cp", str(model), f"pvc://{namespace}/iris/model.joblib")
    assert copied.returncode == 0, copied.stderr
    apply(up, mlservice_yaml("iris", f"pvc://{namespace}/iris/"), namespace)

    started = time.monotonic()
    waited = mls_on(up, "wait", "mlsvc", "iris", "-n", namespace, "--timeout", "30")
    assert waited.returncode == 0, waited.stderr
    assert time.monotonic() - started < 30

    obj = yaml.safe_load(mls_on(up, "get", "mlsvc", "iris", "-n", namespace, "-o", "yaml").stdout)
    status = obj["status"]
    assert status["address"]["url"].startswith(f"http://iris.{namespace}.localhost")
    assert (status["defaultRelease"], status["ready"], status["observedGeneration"]) == (
        "v1",
        True,
        1,
    )
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Paused": "False",
        "Ready": "True",
    }
    (release,) = status["releases"]
    assert set(release) >= RELEASE_SHAPE
    assert (release["readyReplicas"], release["totalReplicas"], release["trafficPercent"]) == (
        1,
        1,
        100,
    )
    assert release["url"].startswith(f"http://iris-predict-v1.{namespace}.localhost")

    answer = httpx.post(f"http://{endpoint(obj)}/v2/models/iris/infer", json=V2_ROW, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [1]  # versicolor

    row = json.dumps({"instances": [V2_ROW["inputs"][0]["data"]]})
    through_gateway = mls_on(up, "predict", "iris", "-n", namespace, "-d", row)
    assert json.loads(through_gateway.stdout) == {"predictions": [1]}, through_gateway.stderr
    one_release = mls_on(
        up, "predict", "iris", "-n", namespace, "--release", "v1", "--v2", "-d", json.dumps(V2_ROW)
    )
    assert json.loads(one_release.stdout)["outputs"][0]["data"] == [1], one_release.stderr
    bad = mls_on(up, "predict", "iris", "-n", namespace, "-d", "{not json")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: -d is not valid JSON")

    described = mls_on(up, "describe", "mlsvc", "iris", "-n", namespace).stdout
    assert f"v1  {release['endpoints'][0]['replica']}  http={endpoint(obj)}" in described
    assert "RevisionReady" in described
    table = mls_on(up, "get", "mlsvc", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert table[1].split()[:2] == ["iris", "True"]
    assert "v1:1/1" in table[1]

    logs = mls_on(up, "logs", "iris", "-n", namespace, "--tail", "20").stdout
    assert "model iris is ready" in logs
    storage = mls_on(up, "logs", "iris", "-n", namespace, "--container", "storage-initializer")
    assert f"volumes/{namespace}/iris in place" in storage.stdout


def test_a_killed_replica_is_replaced_within_10s(
    up: UpProcess, namespace: str, volume: str
) -> None:
    apply(up, mlservice_yaml("iris", f"pvc://{volume}/iris/"), namespace)
    obj = wait_for(up, "iris", namespace, ready)
    revision = obj["status"]["releases"][0]["latestRevision"]
    (pidfile,) = (up.home.replicas / namespace / revision).glob("*/user-container.pid")
    pid = json.loads(pidfile.read_text())["pid"]

    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(up, "iris", namespace, lambda o: not ready(o), timeout=5)
    back = wait_for(up, "iris", namespace, ready, timeout=10)
    assert time.monotonic() - killed < 10
    assert json.loads(pidfile.read_text())["pid"] != pid
    answer = httpx.post(f"http://{endpoint(back)}/v2/models/iris/infer", json=V2_ROW, timeout=10)
    assert answer.status_code == 200


def test_a_new_model_uri_rolls_over_without_a_gap(
    up: UpProcess, namespace: str, volume: str, iris_model: bytes
) -> None:
    second = up.home.volume(volume) / "iris2"
    second.mkdir()
    (second / "model.joblib").write_bytes(iris_model)
    apply(up, mlservice_yaml("iris", f"pvc://{volume}/iris/"), namespace)
    first = wait_for(up, "iris", namespace, ready)

    seen: list[dict] = []
    stop = threading.Event()

    def watch() -> None:
        since = first["metadata"]["resourceVersion"]
        with up.client() as client:
            while not stop.is_set():  # short watches, resumed, so the thread ends promptly
                for event in client.watch(
                    "mlservice", name="iris", namespace=namespace, resource_version=since, timeout=1
                ):
                    since = event["object"]["metadata"]["resourceVersion"]
                    seen.append(event["object"]["status"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        apply(up, mlservice_yaml("iris", f"pvc://{volume}/iris2/"), namespace)
        done = wait_for(
            up,
            "iris",
            namespace,
            lambda o: (
                o["status"]["releases"][0].get("readyRevision") == "iris-predict-v1-00002"
                and o["status"]["releases"][0]["totalReplicas"] == 1
            ),
        )
    finally:
        stop.set()
        watcher.join(timeout=10)

    assert len(seen) >= 2
    for status in seen:  # every status written during the roll still had a ready replica
        (release,) = status["releases"]
        assert (release["ready"], status["ready"]) == (True, True), release
        assert release["readyReplicas"] >= 1, release
    assert any(s["releases"][0]["totalReplicas"] == 2 for s in seen)  # both ran for a while
    assert done["status"]["releases"][0]["url"].startswith("http://iris-predict-v1.")

    order = [(e["reason"], e["message"]) for e in events(up, namespace)]
    new_ready = order.index(("RevisionReady", "Revision iris-predict-v1-00002 is ready (1 ready)."))
    old_stopped = next(
        i for i, (r, m) in enumerate(order) if r == "RevisionStopped" and "00001" in m
    )
    assert new_ready < old_stopped
    assert not (up.home.replicas / namespace / "iris-predict-v1-00001").exists()


def test_a_crashing_runtime_is_reported_and_a_fixed_one_recovers(
    up: UpProcess, namespace: str, volume: str
) -> None:
    def runtime(command: str) -> str:
        return f"""
apiVersion: tensorstack.dev/v1beta1
kind: MLServiceRuntime
metadata: {{name: flaky}}
spec:
  supportedModelFormats: [{{name: sklearn}}]
  template:
    spec:
      containers:
        - name: user-container
          command: {command}
"""

    crash = "[python, -c, \"import sys; print('cannot load weights: boom'); sys.exit(3)\"]"
    apply(up, runtime(crash), namespace)
    apply(up, mlservice_yaml("iris", f"pvc://{volume}/iris/", runtime="flaky"), namespace)
    failing = wait_for(
        up,
        "iris",
        namespace,
        lambda o: "boom" in condition(o).get("message", "") if o.get("status") else False,
    )
    ready_condition = condition(failing)
    assert (ready_condition["status"], ready_condition["reason"]) == ("False", "CrashLoopBackOff")
    assert "exited with code 3" in ready_condition["message"]
    assert "boom" in failing["status"]["releases"][0]["message"]

    fixed = '[mls, serve, $(MODEL_DIR), --name, "{{.Name}}", --port, $(PORT)]'
    apply(up, runtime(fixed), namespace)
    recovered = wait_for(up, "iris", namespace, ready)
    assert recovered["status"]["releases"][0]["readyRevision"] == "iris-predict-v1-00002"
    reasons = [e["reason"] for e in events(up, namespace)]
    assert "CrashLoopBackOff" in reasons
    assert reasons[-1] == "RevisionReady"


def test_an_archive_escaping_its_folder_is_refused(
    up: UpProcess, namespace: str, volume: str, tmp_path: Path
) -> None:
    import io
    import tarfile

    archive = up.home.volume(volume) / "evil" / "model.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("model.joblib", "../../escaped-by-archive.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    apply(up, mlservice_yaml("iris", f"pvc://{volume}/evil/model.tar.gz"), namespace)
    failed = wait_for(
        up, "iris", namespace, lambda o: "reason" in condition(o) if o.get("status") else False
    )
    refused = condition(failed)
    assert (refused["status"], refused["reason"]) == ("False", "ModelDownloadFailed")
    assert "../../escaped-by-archive.txt" in refused["message"]
    assert not list(up.home.root.parent.rglob("escaped-by-archive.txt"))
    log = mls_on(up, "logs", "iris", "-n", namespace, "--container", "storage-initializer").stdout
    assert "error:" in log


def test_simple_custom_service_runs_two_replicas(
    up: UpProcess, namespace: str, volume: str
) -> None:
    manifest = f"""
apiVersion: tensorstack.dev/v1beta1
kind: SimpleMLService
metadata: {{name: files}}
spec:
  replicas: 2
  storage:
    pvc: {{name: {volume}, subPath: iris, containerPath: /custom/path}}
  custom:
    spec:
      containers:
        - name: user-container
          command: [python, -m, http.server, $(PORT), --directory, /custom/path]
"""
    apply(up, manifest, namespace)
    waited = mls_on(up, "wait", "smlsvc", "files", "-n", namespace, "--timeout", "30")
    assert waited.returncode == 0, waited.stderr
    obj = get(up, "smlsvc", "files", namespace)
    status = obj["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "ModelDownloaded": "True",
        "Ready": "True",
    }
    assert status["address"]["dns"] == f"files.{namespace}.svc.localhost"
    assert (status["readyReplicas"], len(status["endpoints"])) == (2, 2)
    for replica in status["endpoints"]:  # each serves the model folder mounted at containerPath
        listing = httpx.get(f"http://{replica['http']}/", timeout=10)
        assert "model.joblib" in listing.text

    # Deleting it stops both replicas and removes their folders.
    assert mls_on(up, "delete", "smlsvc", "files", "-n", namespace).returncode == 0
    revision_dir = up.home.replicas / namespace / status["latestRevision"]
    wait_until(
        lambda: not revision_dir.exists(),
        timeout=10,
        interval=0.1,
        message=f"{revision_dir} to be removed",
    )
    for replica in status["endpoints"]:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://{replica['http']}/", timeout=2)
