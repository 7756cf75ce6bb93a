"""The KPA end to end: a real `mls up` (gateway, engine, `mls serve` replicas) with short windows.

Load from a bounded client raises the replicas above one; once it stops, the release goes to
zero replicas and stays Ready; then 20 concurrent requests wake it and all succeed. Timings are
generous bounds only; the cold-start number is `bench/coldstart.py`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.support.iris import iris_joblib
from tests.support.polling import wait_until
from tests.support.up import FREE_PORTS, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAMESPACE = "autoscale"
ROW = [6.8, 2.8, 4.8, 1.4]  # a versicolor: class 1
ENV = {
    "MLS_AUTOSCALER_TICK": "0.5s",
    "MLS_AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD": "1s",
}
MANIFEST = f"""
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {{name: iris, namespace: {NAMESPACE}}}
spec:
  default: v1
  releases:
    - name: v1
      predictor:
        minReplicas: 0
        maxReplicas: 2
        model: {{modelFormat: {{name: sklearn}}, modelUri: "pvc://{NAMESPACE}/iris/"}}
        template:
          metadata:
            annotations:
              autoscaling.knative.dev/window: "6s"
              autoscaling.knative.dev/target: "1"
"""

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    home = tmp_path_factory.mktemp("autoscaler") / "home"
    args = (*FREE_PORTS, "--max-replicas", "3")
    with up_process(home, args=args, env=ENV) as running:
        yield running


@pytest.fixture(scope="module")
def iris(up: UpProcess) -> Obj:
    folder = up.home.volume(NAMESPACE) / "iris"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(iris_joblib())
    with up.client() as client:
        client.apply(yaml.safe_load(MANIFEST))
    return wait_for(up, lambda s: bool(s.get("ready")), within=60)


def release_of(status: Obj) -> Obj:
    rows: list[Obj] = status.get("releases") or [{}]
    return rows[0]


def wait_for(up: UpProcess, check: Callable[[Obj], bool], *, within: float) -> Obj:
    status: Obj = {}

    def passed() -> Obj | None:
        nonlocal status
        with up.client() as client:
            status = client.get("mlservice", "iris", namespace=NAMESPACE).get("status") or {}
        return status if check(status) else None

    return wait_until(
        passed, timeout=within, interval=0.2, message=lambda: f"the status to pass: {status}"
    )


async def predict(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/v1/models/iris:predict",
        json={"instances": [ROW]},
        headers={"host": f"iris.{NAMESPACE}.localhost"},
    )


async def load_until(
    up: UpProcess, done: Callable[[], bool], *, clients: int, within: float
) -> int:
    """`clients` request loops through the gateway until `done()`; the requests answered."""
    answered = 0
    stop = time.monotonic() + within

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal answered
        while not done() and time.monotonic() < stop:
            answer = await predict(client)
            assert answer.status_code == 200, answer.text
            answered += 1

    gateway = str(up.endpoints["gateway"])
    async with httpx.AsyncClient(base_url=gateway, timeout=60, trust_env=False) as client:
        await asyncio.gather(*(loop(client) for _ in range(clients)))
    return answered


def test_load_scales_up_idle_scales_to_zero_and_requests_wake_it(up: UpProcess, iris: Obj) -> None:
    assert release_of(iris)["readyReplicas"] == 1  # initial scale

    # 1. Bounded load: 8 request loops against a target of 0.7 per replica.
    seen: list[Obj] = []

    def scaled_up() -> bool:
        with up.client() as client:
            status = client.get("mlservice", "iris", namespace=NAMESPACE)["status"]
        seen.append(release_of(status))
        return int(release_of(status).get("totalReplicas", 0)) > 1

    async def watched_load() -> int:
        flag = {"up": False}

        async def watch() -> None:
            while not flag["up"]:
                flag["up"] = await asyncio.to_thread(scaled_up)
                await asyncio.sleep(0.3)

        watcher = asyncio.create_task(watch())
        try:
            return await load_until(up, lambda: flag["up"], clients=8, within=60)
        finally:
            flag["up"] = True
            await watcher

    answered = asyncio.run(watched_load())
    assert answered > 0
    assert max(int(r.get("totalReplicas", 0)) for r in seen) == 2  # maxReplicas holds

    # 2. Idle: the 6 s window plus 1 s of grace, then zero replicas, still Ready.
    idle = time.monotonic()
    status = wait_for(
        up,
        lambda s: release_of(s).get("totalReplicas") == 0 and bool(s.get("ready")),
        within=60,
    )
    assert time.monotonic() - idle >= 6
    release = release_of(status)
    assert (release["readyReplicas"], release["ready"]) == (0, True)

    # 3. Twenty concurrent requests at zero: the activator holds them, all succeed.
    async def burst() -> list[httpx.Response]:
        gateway = str(up.endpoints["gateway"])
        async with httpx.AsyncClient(base_url=gateway, timeout=60, trust_env=False) as client:
            return await asyncio.gather(*(predict(client) for _ in range(20)))

    started = time.monotonic()
    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [200] * 20, answers[0].text
    assert all(a.json()["predictions"] == [1] for a in answers)
    assert time.monotonic() - started < 30

    reasons = _scaling_events(up)
    assert any(m.startswith("ScaledUp") and " mode, observed concurrency " in m for m in reasons)
    assert any(m.startswith("ScaledDown") and " to 0 replicas" in m for m in reasons)
    assert any(m.startswith("ScaledUp") and "a request is waiting" in m for m in reasons)


def _scaling_events(up: UpProcess) -> list[str]:
    with up.client() as client:
        found = client.list("event", namespace=NAMESPACE)
    return [
        f"{e['reason']}: {e['message']}" for e in found if e["reason"] in ("ScaledUp", "ScaledDown")
    ]
