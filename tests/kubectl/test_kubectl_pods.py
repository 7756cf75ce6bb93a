"""The stock kubectl on replicas as Pods, against a whole `mls up`: `-l` selecting KServe's
labels, `-o wide`, writes refused (405), a killed server restarted with `logs --previous`
showing the run before, and `delete pod` replacing the replica while `logs -f` of it ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.kubectl.platform import (
    ISVC_READY_WITHIN,
    iris_volume,
    isvc_yaml,
    kubectl_ok,
    kubectl_run,
    pod_rows,
)
from tests.support.kubectl import kubectl_path, needs_kubectl
from tests.support.polling import wait_until
from tests.support.up import namespace_name

pytestmark = [needs_kubectl(), pytest.mark.e2e]

SELECTOR = "serving.kserve.io/inferenceservice=sklearn-iris,component=predictor"


def running(up: UpProcess, namespace: str, count: int) -> list[list[str]] | None:
    rows = pod_rows(up, namespace)[1:]
    ready = [r for r in rows if r[1:3] == ["1/1", "Running"]]
    return rows if len(rows) == count and len(ready) == count else None


@pytest.mark.timeout(180)
def test_kubectl_reads_restarts_and_replaces_replicas_as_pods(
    platform: UpProcess, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    namespace = namespace_name(request, limit=30)
    manifest = isvc_yaml("sklearn-iris", iris_volume(platform, namespace), path=tmp_path / "i.yaml")
    doc = yaml.safe_load(manifest.read_text())
    doc["spec"]["predictor"]["minReplicas"] = 2
    kubectl_ok(platform, "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(doc))
    rows = wait_until(
        lambda: running(platform, namespace, 2),
        timeout=ISVC_READY_WITHIN,
        interval=0.5,
        message=lambda: f"two running pods, not {pod_rows(platform, namespace)}",
    )
    first, second = rows[0][0], rows[1][0]

    wide = kubectl_ok(platform, "get", "pods", "-n", namespace, "-o", "wide", "-l", SELECTOR)
    lines = [line.split() for line in wide.splitlines()]
    assert lines[0][:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert [line[5:7] for line in lines[1:]] == [["127.0.0.1", socket.gethostname()]] * 2
    other = kubectl_run(platform, "get", "pods", "-n", namespace, "-l", "component=transformer")
    assert other.stdout == ""
    assert "No resources found" in other.stderr

    refused = kubectl_run(platform, "label", "pod", first, "-n", namespace, "team=a")
    assert refused.returncode != 0
    assert "MethodNotAllowed" in refused.stderr or "not allowed" in refused.stderr

    # A killed server is restarted in place: RESTARTS 1, and --previous shows the run before.
    container_id = kubectl_ok(
        platform,
        "get",
        "pod",
        first,
        "-n",
        namespace,
        "-o",
        "jsonpath={.status.containerStatuses[0].containerID}",
    )
    os.kill(int(container_id.removeprefix("mls://")), signal.SIGKILL)

    def restarted() -> bool:
        row = next(r for r in pod_rows(platform, namespace)[1:] if r[0] == first)
        return row[1:4] == ["1/1", "Running", "1"]

    wait_until(restarted, timeout=ISVC_READY_WITHIN, interval=0.5, message="a restarted server")
    previous = kubectl_ok(platform, "logs", first, "-n", namespace, "--previous")
    current = kubectl_ok(platform, "logs", first, "-n", namespace)
    assert "model sklearn-iris is ready" in previous
    assert "model sklearn-iris is ready" in current
    assert previous != current  # each run's own output

    # delete pod: the replica set makes another (a new name); a follower of the old one ends.
    follow_args = ["logs", "-f", second, "-n", namespace, "-c", "kserve-container"]
    with subprocess.Popen(
        [kubectl_path(), "--kubeconfig", str(platform.home.kubeconfig), *follow_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(platform.home.root)},
    ) as following:
        assert following.stdout is not None
        try:
            assert following.stdout.readline()  # it streams what the server wrote
            deleted = kubectl_ok(platform, "delete", "pod", second, "-n", namespace)
            assert deleted.strip() == f'pod "{second}" deleted'
            assert following.wait(timeout=30) == 0
        finally:
            following.kill()
    names = [r[0] for r in pod_rows(platform, namespace)[1:]]
    assert second not in names
    assert first in names
    assert len(names) == 2
    missing = kubectl_run(platform, "delete", "pod", second, "-n", namespace)
    assert missing.returncode != 0
    assert f'pods "{second}" not found' in missing.stderr
    kubectl_ok(platform, "delete", "isvc", "sklearn-iris", "-n", namespace)
