"""KServe's rollout against a full `mls up` (controllers, replicas, gateway): KServeClient's
create, wait_isvc_ready, get, patch of a canary, promotion and delete (run in .venv-kserve),
and the canary's traffic through the gateway: 1,000 requests split 90/10 within statistical
bounds, promotion sending all to the new revision; a new change in flight rolled back (0)
sending all to the previous one."""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.support.iris import iris_joblib
from tests.support.polling import wait_until
from tests.support.up import apply, scratch_namespace, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KSERVE_PYTHON = Path(__file__).parents[2] / ".venv-kserve" / "bin" / "python"
SCRIPT = Path(__file__).with_name("kserve_rollout_script.py")
ROW = [6.8, 2.8, 4.8, 1.4]
READY_WITHIN = 90.0
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("kserve-rollout") / "home") as running:
        yield running


@pytest.fixture
def namespace(request: pytest.FixtureRequest, up: UpProcess) -> Iterator[str]:
    with scratch_namespace(up, request, limit=30) as name:
        yield name
    with up.client() as client:
        for obj in client.list("isvc", namespace=name):
            client.delete("isvc", obj["metadata"]["name"], namespace=name)


@pytest.fixture
def models(up: UpProcess, namespace: str) -> list[str]:
    """Three iris models in a volume named after the namespace; their pvc:// URIs."""
    uris = []
    for version in (1, 2, 3):
        folder = up.home.volume(namespace) / f"iris-{version}"
        folder.mkdir(parents=True)
        (folder / "model.joblib").write_bytes(iris_joblib(labels_shift=version - 1))
        uris.append(f"pvc://{namespace}/iris-{version}")
    return uris


def revision(number: int) -> str:
    return f"sklearn-iris-predictor-{number:05d}"


@pytest.mark.timeout(240)
def test_kserve_client_rolls_out_a_canary_on_a_full_platform(
    up: UpProcess, namespace: str, models: list[str]
) -> None:
    if not KSERVE_PYTHON.exists():
        pytest.skip(f"{KSERVE_PYTHON} is missing: `make test` creates it")
    done = subprocess.run(
        [str(KSERVE_PYTHON), str(SCRIPT), str(up.home.kubeconfig), namespace, *models[:2]],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    port = httpx.URL(str(up.endpoints["gateway"])).port
    assert seen["url"] == f"http://sklearn-iris.{namespace}.localhost:{port}"
    assert seen["ready"] is True
    assert seen["traffic_v1"] == [
        {"revisionName": revision(1), "percent": 100, "latestRevision": True}
    ]
    assert seen["patched"] == 10
    assert seen["traffic_canary"] == [
        {"tag": "latest", "revisionName": revision(2), "percent": 10, "latestRevision": True},
        {"tag": "prev", "revisionName": revision(1), "percent": 90, "latestRevision": False},
    ]
    assert seen["traffic_promoted"] == [
        {"revisionName": revision(2), "percent": 100, "latestRevision": True}
    ]
    assert seen["rolled_out"] == [revision(1), revision(2)]
    assert seen["after_delete"] == []


def isvc(uri: str, percent: int | None = None) -> Obj:
    predictor: Obj = {"sklearn": {"storageUri": uri}}
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "sklearn-iris"},
        "spec": {"predictor": predictor},
    }


def traffic(up: UpProcess, namespace: str) -> list[tuple[str | None, str, int]]:
    with up.client() as client:
        obj = client.get("isvc", "sklearn-iris", namespace=namespace)
    conditions = (obj.get("status") or {}).get("conditions") or []
    if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
        return []
    rows = obj["status"]["components"]["predictor"].get("traffic") or []
    return [(t.get("tag"), t["revisionName"], t["percent"]) for t in rows]


def settle(up: UpProcess, namespace: str, expected: list[tuple[str | None, str, int]]) -> None:
    wait_until(
        lambda: traffic(up, namespace) == expected,
        timeout=READY_WITHIN,
        interval=0.2,
        message=lambda: f"traffic {expected}, not {traffic(up, namespace)}",
    )


def served(client: httpx.Client, namespace: str, count: int) -> Counter[str]:
    """Which revision answered each of `count` predictions on the InferenceService's host."""
    answers: Counter[str] = Counter()
    for _ in range(count):
        answer = client.post(
            "/v1/models/sklearn-iris:predict",
            json={"instances": [ROW]},
            headers={"Host": f"sklearn-iris.{namespace}.localhost"},
        )
        assert answer.status_code == 200, answer.text
        answers[answer.headers["x-mls-release"]] += 1
    return answers


@pytest.mark.timeout(300)
def test_canary_splits_1000_requests_then_promotes_and_rolls_back(
    up: UpProcess, namespace: str, models: list[str]
) -> None:
    v1, v2, v3 = models
    apply(up, yaml.safe_dump(isvc(v1)), namespace)
    settle(up, namespace, [(None, revision(1), 100)])
    apply(up, yaml.safe_dump(isvc(v2, 10)), namespace)
    settle(up, namespace, [("latest", revision(2), 10), ("prev", revision(1), 90)])
    with httpx.Client(base_url=str(up.endpoints["gateway"]), timeout=30) as client:
        # The gateway's routes follow status: wait until the canary has answered once.
        wait_until(lambda: served(client, namespace, 20)[revision(2)] > 0, timeout=30)
        split = served(client, namespace, 1000)
        assert set(split) == {revision(1), revision(2)}, split
        # Binomial(1000, 0.1): mean 100, standard deviation 9.5; 4 of them either side.
        bound = 4 * math.sqrt(1000 * 0.1 * 0.9)
        assert abs(split[revision(2)] - 100) <= bound, split

        apply(up, yaml.safe_dump(isvc(v2)), namespace)  # promote
        settle(up, namespace, [(None, revision(2), 100)])
        wait_until(lambda: set(served(client, namespace, 10)) == {revision(2)}, timeout=30)
        assert served(client, namespace, 100) == {revision(2): 100}

        apply(up, yaml.safe_dump(isvc(v3, 50)), namespace)  # a new change, in flight
        settle(up, namespace, [("latest", revision(3), 50), ("prev", revision(2), 50)])
        wait_until(lambda: served(client, namespace, 20)[revision(3)] > 0, timeout=30)
        apply(up, yaml.safe_dump(isvc(v3, 0)), namespace)  # rolled back
        settle(up, namespace, [("latest", revision(3), 0), ("prev", revision(2), 100)])
        wait_until(lambda: set(served(client, namespace, 10)) == {revision(2)}, timeout=30)
        assert served(client, namespace, 100) == {revision(2): 100}
