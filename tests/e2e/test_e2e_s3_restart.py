"""Issue 5's acceptance, end to end: S3 models whose credentials never leak, and `mls up`
stopped and started again with nothing left behind."""

from __future__ import annotations

import base64
import os
import signal
from pathlib import Path

import httpx
import pytest

from mlservice.cli.background import UpProcess
from tests.e2e.e2e_helpers import V2_ROW, endpoint, events, get, mlservice_yaml, wait_for
from tests.support.moto import Moto
from tests.support.processes import processes_of, wait_no_processes
from tests.support.up import apply, mls_on, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ready(obj: dict) -> bool:
    return bool((obj.get("status") or {}).get("ready"))


def test_an_s3_model_is_served_and_its_secret_key_leaks_nowhere(
    up: UpProcess, namespace: str, moto: Moto, iris_model: bytes
) -> None:
    moto.client().put_object(Bucket="models", Key=f"{namespace}/iris/model.joblib", Body=iris_model)
    s3cfg = base64.b64encode(moto.s3cfg().encode()).decode()
    secret = f"""
apiVersion: v1
kind: Secret
metadata:
  name: s3-creds
  labels: {{tensorstack.dev/resource: s3}}
data:
  .s3cfg: {s3cfg}
"""
    storage = "        storage: {s3Storage: {secretName: s3-creds}}"
    apply(up, secret, namespace)
    apply(up, mlservice_yaml("iris", f"s3://models/{namespace}/iris/", extra=storage), namespace)
    obj = wait_for(up, "iris", namespace, ready)
    answer = httpx.post(f"http://{endpoint(obj)}/v2/models/iris/infer", json=V2_ROW, timeout=10)
    assert answer.json()["outputs"][0]["data"] == [1]

    # A second service whose Secret carries a wrong key fails, and says so without the key.
    bad = base64.b64encode(moto.s3cfg(secret_key="wrong-" + moto.secret_key).encode()).decode()
    apply(up, secret.replace("s3-creds", "bad-creds").replace(s3cfg, bad), namespace)
    denied_storage = storage.replace("s3-creds", "bad-creds")
    apply(
        up,
        mlservice_yaml("denied", f"s3://models/{namespace}/iris/", extra=denied_storage),
        namespace,
    )
    denied = wait_for(up, "denied", namespace, lambda o: "reason" in _ready_condition(o))
    assert _ready_condition(denied)["reason"] == "ModelDownloadFailed"

    key = moto.secret_key
    outputs = [
        mls_on(up, "get", "mlsvc", "-n", namespace, "-o", "yaml").stdout,
        mls_on(up, "get", "secret", "-n", namespace, "-o", "wide").stdout,
        mls_on(up, "describe", "mlsvc", "iris", "-n", namespace).stdout,
        mls_on(up, "describe", "mlsvc", "denied", "-n", namespace).stdout,
        mls_on(up, "describe", "secret", "s3-creds", "-n", namespace).stdout,
        mls_on(up, "get", "events", "-n", namespace, "-o", "json").stdout,
        mls_on(up, "logs", "iris", "-n", namespace, "--container", "storage-initializer").stdout,
        mls_on(up, "logs", "denied", "-n", namespace, "--container", "storage-initializer").stdout,
        mls_on(up, "logs", "iris", "-n", namespace).stdout,
        str(get(up, "mlsvc", "iris", namespace)["status"]),
        str(get(up, "mlsvc", "denied", namespace)["status"]),
        str(events(up, namespace)),
    ]
    assert "s3://models" in outputs[6]  # the log is really there, and names the URI
    for text in outputs:
        assert key not in text
    leaking = [p for p in up.home.root.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert leaking == []  # state.db keeps the Secret base64-encoded, as Kubernetes does


def _ready_condition(obj: dict) -> dict:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def test_mls_up_restarts_its_services_and_leaves_no_process_behind(
    tmp_path: Path, iris_model: bytes
) -> None:
    home = tmp_path / "home"
    folder = home / "volumes" / "models" / "iris"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(iris_model)
    manifest = mlservice_yaml("iris", "pvc://models/iris/")

    first = up_process(home).start()
    try:
        apply(first, manifest, "default")
        before = wait_for(first, "iris", "default", ready)
        assert processes_of(home)  # the replica (and mls up) carry the data dir
    finally:
        assert first.stop() == 0  # SIGINT, as Ctrl-C
    wait_no_processes(home)

    second = up_process(home).start()
    try:
        after = wait_for(second, "iris", "default", ready)
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["spec"] == before["spec"]
        release = after["status"]["releases"][0]
        assert release["readyRevision"] == before["status"]["releases"][0]["readyRevision"]
        answer = httpx.post(
            f"http://{endpoint(after)}/v2/models/iris/infer", json=V2_ROW, timeout=10
        )
        assert answer.status_code == 200
        # Killed outright, the supervisor still takes its replicas along (parent-death signal).
        os.kill(second.pid, signal.SIGKILL)
    finally:
        second.stop()
    wait_no_processes(home)
