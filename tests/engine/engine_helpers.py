"""Helpers for the engine tests: fast settings, revisions of small Python programs, waiting on
replica events, checking processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlservice.engine import (
    DEFAULT_MOUNT_PATH,
    ModelSource,
    ReplicaEvent,
    ReplicaState,
    Revision,
)
from mlservice.engine.local import LocalEngine, LocalEngineConfig, procfs
from mlservice.home import Home
from mlservice.naming import ComponentKey
from tests.support.polling import WaitTimeout, wait_until

PROGRAMS = Path(__file__).parent / "programs"
ECHO_SERVER = str(PROGRAMS / "echo_server.py")


def fast_config(home: Home, **overrides: object) -> LocalEngineConfig:
    settings: dict[str, object] = {
        "probe_period": 0.05,
        "probe_timeout": 0.5,
        "backoff_base": 0.1,
        "backoff_cap": 0.4,
        "stable_after": 5.0,
        "stop_grace": 1.0,
        "watchdog_period": 0.1,
        "port_retry": 0.1,
        "port_quarantine": 2.0,
    }
    settings.update(overrides)
    return LocalEngineConfig(home=home, **settings)  # type: ignore[arg-type]


def container(
    name: str = "user-container",
    *,
    command: Sequence[str] = (sys.executable, ECHO_SERVER),
    args: Sequence[str] = (),
    env: Mapping[str, str] | Sequence[Mapping[str, object]] = (),
    **fields: object,
) -> dict[str, Any]:
    """A Kubernetes container, as a manifest writes it: `env` given as a mapping is plain
    values in order; other fields (`ports`, `readinessProbe`, ...) are its JSON."""
    body: dict[str, Any] = {"name": name, **fields}
    if command:
        body["command"] = list(command)
    if args:
        body["args"] = list(args)
    if env:
        pairs = (
            [{"name": k, "value": v} for k, v in env.items()] if isinstance(env, Mapping) else env
        )
        body["env"] = [dict(var) for var in pairs]
    return body


def revision(
    name: str = "svc-predict-v1-00001",
    *,
    containers: Sequence[Mapping[str, Any]] | None = None,
    volumes: Sequence[Mapping[str, Any]] = (),
    model_dir: Path | None = None,
    mount_path: str = DEFAULT_MOUNT_PATH,
    namespace: str = "default",
    service: str = "svc",
    key: ComponentKey = ComponentKey("predict", "v1"),
    predictor_host: str | None = None,
    **container_fields: Any,
) -> Revision:
    """A revision of `service` (default: release `v1`'s predictor of `svc`): one container
    built from `container_fields` unless `containers` are given, its model (a local folder,
    used in place) at `mount_path`."""
    if containers is None:
        containers = [container(**container_fields)]
    pod_spec: dict[str, Any] = {"containers": [dict(c) for c in containers]}
    if volumes:
        pod_spec["volumes"] = [dict(v) for v in volumes]
    model = ModelSource(str(model_dir), mount_path=mount_path) if model_dir is not None else None
    return Revision(
        namespace=namespace,
        name=name,
        kind="MLService",
        service=service,
        key=key,
        pod_spec=pod_spec,
        model=model,
        predictor_host=predictor_host,
    )


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


class Events:
    """Every replica event of an engine, and waiting for a condition on replica states."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.seen: list[ReplicaEvent] = []
        self._arrived = asyncio.Event()
        self.unsubscribe = engine.subscribe(self._on_event)

    def _on_event(self, event: ReplicaEvent) -> None:
        self.seen.append(event)
        self._arrived.set()

    async def until(
        self,
        check: Callable[[list[ReplicaState]], bool],
        *,
        within: float = 10.0,
        what: str = "condition",
    ) -> list[ReplicaState]:
        """Wait until `check(current replicas)` holds; fail after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            states = await self.engine.replicas()
            if check(states):
                return states
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"timed out waiting for {what}; replicas: {states}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))

    async def until_ready(self, count: int, *, within: float = 10.0) -> list[ReplicaState]:
        return await self.until(
            lambda states: len(states) == count and all(s.ready for s in states),
            within=within,
            what=f"{count} ready replicas",
        )

    def phases(self, replica_id: str) -> list[str]:
        return [e.replica.phase for e in self.seen if e.replica.id == replica_id]


def alive(pid: int) -> bool:
    found = procfs.stat(pid)
    return found is not None and found.alive


def wait_dead(pids: list[int], *, timeout: float = 5.0) -> list[int]:
    """Poll until every pid is gone (zombies count as gone); returns those still alive."""
    with contextlib.suppress(WaitTimeout):
        wait_until(lambda: not any(alive(pid) for pid in pids), timeout=timeout, interval=0.02)
    return [pid for pid in pids if alive(pid)]


def kill_quietly(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


FORKER = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print('grandchild', child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def forker_revision() -> Revision:
    return revision("forker-predict-v1-00001", service="forker", command=python(FORKER))


def grandchild_of(log: Path) -> int | None:
    match = re.search(r"grandchild (\d+)", log.read_text()) if log.exists() else None
    return int(match.group(1)) if match else None
