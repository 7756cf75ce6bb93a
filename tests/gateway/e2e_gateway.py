"""Helpers for the gateway's end-to-end tests against a real `mls up` (tests.support.up):
manifests, waiting for readiness, the gateway's admin view, replica processes, bounded client
loads."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mlservice.cli.background import UpProcess
from tests.support.iris import iris_joblib
from tests.support.up import mls_on

IRIS_ROW = {
    "inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [6.3, 3.3, 6.0, 2.5]}
    ]
}
Obj = dict[str, Any]


def iris_models(up: UpProcess, volume: str) -> str:
    """Volume `volume` with `iris/` (class 2 for IRIS_ROW) and `iris-shifted/` (class 0): two
    models that disagree on one row, so an answer tells which release gave it."""
    for folder, shift in (("iris", 0), ("iris-shifted", 1)):
        path = up.home.volume(volume) / folder
        path.mkdir(parents=True)
        (path / "model.joblib").write_bytes(iris_joblib(shift))
    return volume


def wait_ready(up: UpProcess, name: str, namespace: str, timeout: int = 90) -> None:
    wait = ("wait", "mlsvc", name, "-n", namespace, "--timeout", str(timeout))
    done = mls_on(up, *wait, timeout=timeout + 30)
    assert done.returncode == 0, f"{done.stderr}\n{up.log()[-3000:]}"


def release(name: str, uri: str, *, fmt: str = "sklearn", **predictor: Any) -> Obj:
    return {
        "name": name,
        "predictor": {"model": {"modelFormat": {"name": fmt}, "modelUri": uri}, **predictor},
    }


def mlservice(name: str, *releases: Obj, **spec: Any) -> Obj:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name},
        "spec": {"default": releases[0]["name"], "releases": list(releases), **spec},
    }


def gateway(up: UpProcess, **options: Any) -> httpx.Client:
    return httpx.Client(base_url=up.endpoints["gateway"], trust_env=False, **options)


def admin_routes(up: UpProcess) -> Obj:
    answer = httpx.get(
        f"{up.endpoints['gateway_admin']}/admin/routes",
        headers={"authorization": f"Bearer {up.token}"},
        timeout=10,
    )
    answer.raise_for_status()
    doc: Obj = answer.json()
    return doc


def revisions_of(up: UpProcess, namespace: str, service: str) -> list[Obj]:
    return [
        r
        for r in admin_routes(up)["revisions"]
        if r["namespace"] == namespace and r["service"] == service
    ]


def replica_pid(up: UpProcess, namespace: str, replica: str) -> int | None:
    """The pid of a replica's user-container, from the engine's pidfile (None between runs)."""
    for path in (up.home.replicas / namespace).glob(f"*/{replica}/user-container.pid"):
        try:
            return int(json.loads(path.read_text())["pid"])
        except (OSError, ValueError):
            return None
    return None


@dataclass
class Load:
    """A bounded client load: `threads` clients sending one request after another."""

    send: Callable[[httpx.Client], httpx.Response]
    up: UpProcess
    threads: int = 2
    results: list[tuple[float, int, str, str]] = field(
        default_factory=list
    )  # t, code, release, body
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def _run(self) -> None:
        with gateway(self.up, timeout=30) as http:
            while not self._stop.is_set():
                try:
                    answer = self.send(http)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                row = (
                    time.monotonic(),
                    answer.status_code,
                    answer.headers.get("x-mls-release", ""),
                    answer.text,
                )
                self.results.append(row)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    @property
    def failures(self) -> list[str]:
        bad = [f"{code}: {body[:200]}" for _, code, _, body in self.results if code != 200]
        return self.errors + bad


def copy_model(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_file():
            (dest / item.name).write_bytes(item.read_bytes())
