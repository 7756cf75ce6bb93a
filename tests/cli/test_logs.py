"""`mls logs`: which file it picks, `--tail`, `-f`, and its errors, through a real `mls`.

`mls up` here serves the API alone, so the test writes the status and the replica files the
controllers and the engine would; the end-to-end tests read real replicas' logs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlservice.cli.background import UpProcess
from mlservice.cli.logs import log_file, revision_of
from mlservice.errors import InvalidInput
from mlservice.home import Home
from tests.support.cli import user_env

pytestmark = pytest.mark.e2e

MANIFEST = """
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {name: iris}
spec:
  default: v1
  releases:
    - name: v1
      predictor: {model: {modelFormat: {name: sklearn}, modelUri: "pvc://m/iris/"}}
"""


def replica_files(home: Home, namespace: str, revision: str, replica: str, text: str) -> Path:
    folder = home.replicas / namespace / revision / replica
    folder.mkdir(parents=True)
    (folder / "owner.json").write_text("{}")
    (folder / "user-container.log").write_text(text)
    return folder / "user-container.log"


def test_logs_prints_the_newest_replica_of_the_current_revision(
    mls, mls_up: UpProcess, namespace: str
) -> None:
    mls("apply", "-f", "-", "-n", namespace, stdin=MANIFEST)
    early = mls("logs", "iris", "-n", namespace)
    assert (early.returncode, early.stderr) == (
        1,
        f"error: MLService {namespace}/iris has no revision yet; see `mls describe`.\n",
    )
    status = {"releases": [{"name": "v1", "latestRevision": "iris-predict-v1-00002"}]}
    with mls_up.client(namespace=namespace) as client:
        client.patch("mlsvc", "iris", {"status": status}, status=True)
    home = mls_up.home
    replica_files(home, namespace, "iris-predict-v1-00001", "old-aaaaa", "from the old revision\n")
    replica_files(home, namespace, "iris-predict-v1-00002", "new-bbbbb", "older replica\n")
    time.sleep(0.01)  # a later mtime for the newer replica
    lines = "".join(f"line {i}\n" for i in range(10))
    newest = replica_files(home, namespace, "iris-predict-v1-00002", "new-ccccc", lines)
    storage = newest.parent.parent / "storage-initializer.log"
    storage.write_text("fetching pvc://m/iris/\n")

    assert mls("logs", "iris", "-n", namespace).stdout == lines
    assert mls("logs", "iris", "-n", namespace, "--tail", "2").stdout == "line 8\nline 9\n"
    picked = mls("logs", "iris", "-n", namespace, "--replica", "new-bbbbb")
    assert picked.stdout == "older replica\n"
    init = mls("logs", "iris", "-n", namespace, "--container", "storage-initializer")
    assert init.stdout == "fetching pvc://m/iris/\n"
    wrong = mls("logs", "iris", "-n", namespace, "--release", "v9")
    assert wrong.stderr == f"error: MLService {namespace}/iris has no release 'v9'.\n"
    missing = mls("logs", "ghost", "-n", namespace)
    assert missing.stderr == f"error: No MLService or SimpleMLService {namespace}/ghost exists.\n"

    follower = subprocess.Popen(
        [sys.executable, "-m", "mlservice", "logs", "iris", "-n", namespace, "-f", "--tail", "1"],
        stdout=subprocess.PIPE,
        text=True,
        env=user_env(home.root),
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "line 9\n"
        with newest.open("a") as log:
            log.write("appended later\n")
        assert follower.stdout.readline() == "appended later\n"  # bounded by the test timeout
    finally:
        follower.kill()
        follower.wait(timeout=10)
        if follower.stdout is not None:
            follower.stdout.close()


def test_revision_and_file_choices(tmp_path: Path) -> None:
    obj = {
        "kind": "MLService",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"default": "v1", "releases": [{"name": "v1"}]},
        "status": {"transformer": {"readyRevision": "s-transform-00001"}},
    }
    assert revision_of(obj, release=None, component="transformer") == "s-transform-00001"
    with pytest.raises(InvalidInput, match="has no revision yet"):
        revision_of(obj, release=None, component="predictor")
    simple = {"kind": "SimpleMLService", "metadata": {}, "status": {"latestRevision": "f-1"}}
    assert revision_of(simple, release=None, component="predictor") == "f-1"
    with pytest.raises(InvalidInput, match="has no replica"):
        log_file(Home(tmp_path), "n", "s-1", container="user-container", replica=None)
