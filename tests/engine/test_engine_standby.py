"""Warm standbys (engine/local/standby.py): a real local engine hands a scikit-learn `mls serve`
launch to a process that imported everything ahead, which then serves like a cold one."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from mlservice.engine import ModelSource, ReplicaState, Revision
from mlservice.engine.local import LocalEngine, LocalEngineConfig, process
from mlservice.engine.local.process import Launch
from mlservice.engine.local.standby import qualifies
from mlservice.home import Home
from mlservice.naming import ComponentKey
from tests.support.polling import wait_until_async

pytestmark = pytest.mark.anyio
MLS = str(Path(sys.executable).with_name("mls"))
WARM = b"mlservice.engine.local.warm"


def launch(*argv: str, cpus: frozenset[int] | None = None, path: str | None = None) -> Launch:
    env = {"PATH": path or str(Path(sys.executable).parent)}
    return Launch(argv=argv, env=env, cwd=Path("/"), log_path=Path(os.devnull), cpus=cpus)


@pytest.mark.parametrize(
    ("argv", "cpus", "expected"),
    [
        (("mls", "serve", "/m", "--format", "sklearn"), None, True),
        (("mls", "serve", "/m", "--format=sklearn", "--port", "1"), None, True),
        ((MLS, "serve", "/m", "--format", "sklearn"), None, True),
        (("mls", "serve", "/m", "--format", "sklearn"), frozenset({0}), False),  # pinned
        (("mls", "serve", "/m", "--format", "xgboost"), None, False),
        (("mls", "serve", "/m"), None, False),  # format unknown until detected
        (("mls", "up"), None, False),
        (("python", "serve", "--format", "sklearn"), None, False),
    ],
)
def test_which_launches_a_standby_takes(
    argv: tuple[str, ...], cpus: frozenset[int] | None, expected: bool
) -> None:
    assert qualifies(launch(*argv, cpus=cpus)) is expected


def test_another_mls_on_the_path_starts_cold(tmp_path: Path) -> None:
    other = tmp_path / "mls"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    found = launch("mls", "serve", "/m", "--format", "sklearn", path=str(tmp_path))
    assert not qualifies(found)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    folder = tmp_path / "iris"
    folder.mkdir()
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), buffer)
    (folder / "model.joblib").write_bytes(buffer.getvalue())
    return folder


@pytest.fixture
async def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LocalEngine]:
    monkeypatch.setattr(process, "REFILL_DELAY", 0.1)
    config = LocalEngineConfig(
        home=Home(tmp_path / "home"), probe_period=0.05, stop_grace=2.0, warm_standby=True
    )
    async with LocalEngine(config) as running:
        yield running
    assert _standbys() == []  # closing the engine ends the waiting standby too


def revision(name: str, model_dir: Path, fmt: str) -> Revision:
    args = ["$(MODEL_DIR)", "--name", "iris", "--format", fmt, "--port", "$(PORT)"]
    container = {"name": "user-container", "command": ["mls", "serve"], "args": args}
    return Revision(
        namespace="default",
        name=name,
        kind="MLService",
        service="iris",
        key=ComponentKey("predict", "v1"),
        pod_spec={"containers": [container]},
        model=ModelSource(str(model_dir)),  # a local folder: used in place
    )


def _standbys() -> list[int]:
    """Live standby processes this test process started (through the engine's shim)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or WARM not in (proc / "cmdline").read_bytes():
                continue
            status = (proc / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if int(fields["PPid"]) == os.getpid() and not fields["State"].startswith("Z"):
            found.append(int(proc.name))
    return found


async def _until(check: Callable[[], bool], *, within: float = 30.0) -> None:
    await wait_until_async(check, timeout=within)


async def test_a_sklearn_replica_starts_in_the_waiting_standby(
    engine: LocalEngine, model_dir: Path
) -> None:
    await _until(lambda: len(_standbys()) == 1)
    (waiting,) = _standbys()
    spec = revision("iris-predict-v1-00001", model_dir, "sklearn")
    await engine.ensure(spec, 1)
    replica = await _ready_replica(engine, spec)
    assert replica.pid == waiting  # the standby became the replica
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"http://127.0.0.1:{replica.port}/v1/models/iris:predict",
            json={"instances": [[6.8, 2.8, 4.8, 1.4]]},
        )
    assert answer.json() == {"predictions": [1]}
    log = replica.logs["user-container"].read_text()
    assert "mls serve: model iris (sklearn)" in log
    # A fresh standby takes its place, and the replica stops like any other.
    await _until(lambda: [p for p in _standbys() if p != waiting] != [])
    await engine.stop(spec.id)
    assert await engine.replicas(spec.id) == []


async def test_other_formats_start_cold(engine: LocalEngine, model_dir: Path) -> None:
    await _until(lambda: len(_standbys()) == 1)
    (waiting,) = _standbys()
    spec = revision("iris-predict-v1-00002", model_dir, "python")  # no model.py: it fails
    await engine.ensure(spec, 1)
    pids: list[int | None] = [None]

    async def spawned() -> None:
        while pids[0] is None:
            pids[0] = (await engine.replicas(spec.id))[0].pid
            await asyncio.sleep(0.02)

    await asyncio.wait_for(spawned(), timeout=30)
    assert pids[0] != waiting
    assert _standbys() == [waiting]  # untouched
    await engine.stop(spec.id)


async def _ready_replica(engine: LocalEngine, spec: Revision) -> ReplicaState:
    seen: list[ReplicaState] = []

    async def ready() -> ReplicaState | None:
        seen[:] = await engine.replicas(spec.id)
        return seen[0] if seen and seen[0].ready else None

    return await wait_until_async(
        ready, timeout=60, message=lambda: f"a ready replica of {spec.id}: {seen}"
    )


def test_probes_are_quick_until_first_ready(tmp_path: Path) -> None:
    from mlservice.engine.local.probes import plan_probe
    from mlservice.runtime import Probe, RenderedContainer

    config = LocalEngineConfig(home=Home(tmp_path), probe_period=0.5, startup_probe_period=0.02)
    server = RenderedContainer(name="user-container", command=("mls",))
    default = plan_probe(server, is_server=True, port=1234, config=config)
    assert default is not None
    assert (default.delay(ready=False), default.delay(ready=True)) == (0.02, 0.5)
    # A probe with its own periodSeconds is checked at that period from the start.
    own = Probe(http_path="/ready", period_seconds=3)
    timed = plan_probe(
        RenderedContainer(name="user-container", command=("x",), readiness_probe=own),
        is_server=True,
        port=1234,
        config=config,
    )
    assert timed is not None
    assert (timed.delay(ready=False), timed.delay(ready=True)) == (3.0, 3.0)
