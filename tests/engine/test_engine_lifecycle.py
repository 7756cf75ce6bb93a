"""Starting, scaling and stopping replicas of a real program, and what each replica is given."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import httpx
import pytest

from mlservice.engine.local import LocalEngine, storage_log
from mlservice.errors import InvalidInput
from mlservice.naming import transformer_key
from tests.engine.engine_helpers import (
    ECHO_SERVER,
    Events,
    alive,
    container,
    python,
    revision,
    wait_dead,
)

pytestmark = pytest.mark.anyio


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def fetch_self(port: int) -> dict[str, object]:
    reply = await get(port, "/self")
    reply.raise_for_status()
    return reply.json()  # type: ignore[no-any-return]


async def test_two_replicas_become_ready_on_distinct_ports(
    engine: LocalEngine, events: Events
) -> None:
    await engine.ensure(revision(), 2)
    states = await events.until_ready(2)

    ports = {s.port for s in states} | {s.grpc_port for s in states}
    assert len(ports) == 4
    for state in states:
        assert state.phase == "Running"
        assert state.port is not None
        assert (await fetch_self(state.port))["pid"] == state.pid
    assert [e.type for e in events.seen[:2]] == ["ADDED", "ADDED"]


async def test_replica_gets_engine_variables_and_extra_env(
    engine: LocalEngine, events: Events, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    rev = revision(
        "mnist-transform-00003",
        namespace="team-a",
        service="mnist",
        key=transformer_key(),
        model_dir=model_dir,  # a local folder: used in place
        predictor_host="mnist-predict.team-a.localhost",
        args=("--model=/var/lib/t9k/model/mnist.pt", "--port", "$(PORT)", "$(UNKNOWN)"),
        env={
            "PREDICTOR_HOST": "spec-value-loses",
            "ADDR": "127.0.0.1:$(GRPC_PORT)",
            "EXTRA": "kept",
        },
        workingDir="/var/lib/t9k/model",
    )
    await engine.ensure(rev, 1)
    [state] = await events.until_ready(1)
    assert state.port is not None
    seen = await fetch_self(state.port)

    env = seen["env"]
    assert isinstance(env, dict)
    assert env["PORT"] == str(state.port)
    assert env["GRPC_PORT"] == str(state.grpc_port)
    assert env["MODEL_DIR"] == str(model_dir)
    assert env["ADDR"] == f"127.0.0.1:{state.grpc_port}"
    assert env["EXTRA"] == "kept"
    # A transformer reaches its predictors through the gateway, naming their host.
    assert env["PREDICTOR_HOST"] == engine.config.gateway_address
    assert env["PREDICTOR_HOST_HEADER"] == "mnist-predict.team-a.localhost"
    assert (env["MLS_SERVICE"], env["MLS_RELEASE"]) == ("mnist", "")
    assert (env["MLS_COMPONENT"], env["MLS_NAMESPACE"]) == ("transform", "team-a")
    assert env["MLS_REPLICA"] == state.id
    assert seen["argv"] == [
        ECHO_SERVER,
        f"--model={model_dir}/mnist.pt",
        "--port",
        str(state.port),
        "$(UNKNOWN)",
    ]
    assert seen["cwd"] == str(model_dir)


async def test_scale_down_stops_the_surplus_and_frees_its_port(
    engine: LocalEngine, events: Events
) -> None:
    rev = revision()
    await engine.ensure(rev, 3)
    states = await events.until_ready(3)

    await engine.ensure(rev, 1)
    remaining = await engine.replicas(rev.id)
    assert len(remaining) == 1
    gone = [s for s in states if s.id != remaining[0].id]
    assert wait_dead([s.pid for s in gone if s.pid]) == []
    deleted = {e.replica.id for e in events.seen if e.type == "DELETED"}
    assert deleted == {s.id for s in gone}
    for state in gone:
        assert not state.logs["user-container"].parent.exists()

    await engine.ensure(rev, 1)  # level-triggered: the same call again changes nothing
    assert [s.id for s in await engine.replicas(rev.id)] == [remaining[0].id]


async def test_stop_removes_the_revision_and_its_files(engine: LocalEngine, events: Events) -> None:
    rev = revision()
    await engine.ensure(rev, 2)
    states = await events.until_ready(2)
    log = storage_log(engine.config.home, rev.namespace, rev.name)
    assert states[0].logs["storage-initializer"] == log
    assert states[0].logs["user-container"].read_text().startswith("echo server on")

    await engine.stop(rev.id)
    assert await engine.replicas() == []
    assert await engine.revisions() == []
    assert wait_dead([s.pid for s in states if s.pid]) == []
    assert not log.parent.exists()


async def test_changed_spec_replaces_the_replicas(engine: LocalEngine, events: Events) -> None:
    await engine.ensure(revision(), 1)
    [old] = await events.until_ready(1)
    await engine.ensure(revision(args=("--changed",)), 1)
    [new] = await events.until_ready(1)
    assert new.id != old.id
    assert old.pid is not None
    assert not alive(old.pid)


async def test_cpu_limit_pins_cores_and_unenforceable_limits_are_reported(
    engine: LocalEngine, events: Events
) -> None:
    limits = {"cpu": "500m", "ephemeral-storage": "1Gi"}
    await engine.ensure(revision(resources={"limits": limits}), 1)
    [state] = await events.until_ready(1)
    assert state.pid is not None
    assert len(os.sched_getaffinity(state.pid)) == 1
    assert state.warnings == (
        "containers[user-container].resources.limits.ephemeral-storage=1Gi is not enforced by "
        "the local engine",
    )


async def test_explicit_http_probe_waits_for_its_path(
    engine: LocalEngine, events: Events, tmp_path: Path
) -> None:
    flag = tmp_path / "ready"
    server = (
        "import http.server, os, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        f"        ok = self.path == '/healthz' and os.path.exists({str(flag)!r})\n"
        "        self.send_response(200 if ok else 503); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
    )
    # No periodSeconds (whole seconds only): the test config's 0.05 s period applies.
    probe = {"httpGet": {"port": 8080, "path": "/healthz"}}
    rev = revision(
        command=(sys.executable, "-c", server),
        args=("$(PORT)",),
        ports=[{"containerPort": 8080}],
        readinessProbe=probe,
    )
    await engine.ensure(rev, 1)
    [state] = await events.until(lambda s: len(s) == 1 and s[0].phase == "Starting")
    assert state.port is not None
    for _ in range(100):  # until it listens: at most 100 x 50 ms
        with contextlib.suppress(httpx.ConnectError):
            assert (await get(state.port, "/healthz")).status_code == 503
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # six probe periods of answering 503
    [state] = await engine.replicas()
    assert (state.phase, state.ready) == ("Starting", False)

    flag.touch()
    await events.until_ready(1)


async def test_server_without_v2_health_is_ready_by_tcp(
    engine: LocalEngine, events: Events
) -> None:
    rev = revision(
        command=(sys.executable, "-m", "http.server"), args=("$(PORT)", "--bind", "127.0.0.1")
    )
    await engine.ensure(rev, 1)
    [state] = await events.until_ready(1)
    assert state.port is not None
    assert (await get(state.port, "/v2/health/ready")).status_code == 404


async def test_bad_input_is_refused_before_anything_starts(engine: LocalEngine) -> None:
    with pytest.raises(InvalidInput, match=r"limits\.memory '-1Gi' must not be negative"):
        await engine.ensure(revision(resources={"limits": {"memory": "-1Gi"}}), 1)
    with pytest.raises(InvalidInput, match='"12XB" is not a quantity'):
        await engine.ensure(revision(resources={"limits": {"memory": "12XB"}}), 1)
    with pytest.raises(InvalidInput, match='port "metrics" names no port'):
        await engine.ensure(revision(readinessProbe={"tcpSocket": {"port": "metrics"}}), 1)
    with pytest.raises(InvalidInput, match="cannot have -1 replicas"):
        await engine.ensure(revision(), -1)
    assert await engine.replicas() == []


async def test_sidecar_runs_next_to_the_server_with_its_own_log(
    engine: LocalEngine, events: Events
) -> None:
    sidecar = container(
        "agent",
        command=python("import os, time; print('server at', os.environ['PORT']); time.sleep(30)"),
    )
    # The sidecar comes first in the PodSpec; `user-container` is still the server.
    rev = revision("svc-predict-v1-00002", containers=[sidecar, container()])
    await engine.ensure(rev, 1)
    [state] = await events.until_ready(1)
    assert [c.name for c in state.containers] == ["user-container", "agent"]
    assert all(c.phase == "Running" and c.pid for c in state.containers)
    assert state.pid == state.containers[0].pid
    agent_log = state.logs["agent"]
    for _ in range(100):  # the sidecar prints right after it starts: at most 100 x 20 ms
        if agent_log.read_text():
            break
        await asyncio.sleep(0.02)
    assert agent_log.read_text() == f"server at {state.port}\n"
