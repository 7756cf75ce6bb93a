"""Helpers for the end-to-end tests: running `mls` as a user does, waiting on status through
the API with a bound, finding the processes that belong to a data dir."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mlservice.cli.background import UpProcess

# The storage tests' moto_server helpers, shared rather than copied.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from storage_servers import Moto, enable_auth, free_port, running_moto, wait_until_up

__all__ = ["Moto", "enable_auth", "free_port", "running_moto", "wait_until_up"]
Obj = dict[str, Any]
UP_ARGS = ("--api-port", "0", "--gateway-port", "0", "--backoff-cap", "2")
RELEASE_SHAPE = {"name", "ready", "readyReplicas", "totalReplicas", "trafficPercent", "url"}


def up_process(home: Path) -> UpProcess:
    """`mls up` on `home`; MLS_HOME in its environment marks every replica it starts, so a
    test can find strays in /proc."""
    return UpProcess(home, args=UP_ARGS, env={**os.environ, "MLS_HOME": str(home)})


def mls(
    up: UpProcess, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`mls ARGS...` as a user runs it: it finds `mls up` through MLS_HOME alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLS_API", "MLS_TOKEN")}
    env["MLS_HOME"] = str(up.home.root)
    return subprocess.run(
        [sys.executable, "-m", "mlservice", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def apply(up: UpProcess, manifest: str, namespace: str) -> None:
    done = mls(up, "apply", "-f", "-", "-n", namespace, stdin=manifest)
    assert done.returncode == 0, done.stderr


def get(up: UpProcess, kind: str, name: str, namespace: str) -> Obj:
    with up.client() as client:
        return client.get(kind, name, namespace=namespace)


def wait_for(
    up: UpProcess,
    name: str,
    namespace: str,
    check: Callable[[Obj], bool],
    *,
    kind: str = "mlservice",
    timeout: float = 30,
) -> Obj:
    """The object once `check(obj)` holds; AssertionError with its status after `timeout`."""
    deadline = time.monotonic() + timeout
    obj: Obj = {}
    while time.monotonic() < deadline:
        obj = get(up, kind, name, namespace)
        if check(obj):
            return obj
        time.sleep(0.1)
    raise AssertionError(
        f"{kind} {namespace}/{name} never passed the check:\n{yaml.safe_dump(obj)}"
    )


def condition(obj: Obj, type_: str = "Ready") -> Obj:
    found: Obj = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found


def events(up: UpProcess, namespace: str) -> list[Obj]:
    """The namespace's events in the order they were recorded (resourceVersion)."""
    with up.client() as client:
        found = client.list("event", namespace=namespace)
    return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))


def endpoint(obj: Obj, release: int = 0) -> str:
    """The HTTP address of the first ready replica of a release (status.releases[*].endpoints)."""
    return str(obj["status"]["releases"][release]["endpoints"][0]["http"])


def processes_of(home: Path) -> list[str]:
    """Live processes whose command line or environment mentions the data dir."""
    needle = str(home).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if needle in cmdline or needle in environ:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {shown}")
    return found


def wait_no_processes(home: Path, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    left = processes_of(home)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_of(home)
    return left


def mlservice_yaml(name: str, uri: str, *, runtime: str | None = None, extra: str = "") -> str:
    model = f"runtime: {runtime}" if runtime else "modelFormat: {name: sklearn}"
    return f"""
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {{name: {name}}}
spec:
  default: v1
  releases:
    - name: v1
      predictor:
        model: {{{model}, modelUri: "{uri}"}}
{extra}
"""


V2_ROW = {
    "inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [6.8, 2.8, 4.8, 1.4]}
    ]
}
